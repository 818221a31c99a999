# Numerical parity with an independent numpy float64 reference (t/lib/ref.py)
# through real HTTP: the digits classifier trained on real data, and every
# randomized fixture (1 to 4 layers, widths 1 to 300, every activation,
# F32/F16/BF16 weights, with and without bias and softmax), at every batch
# size from 1 to max_batch.  Within 1e-4 relative (1e-6 absolute floor).

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $manifest = fixture_manifest();
my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $max_batch = 16;

my @models = ({ name => 'digits', dir => "$repo/models/digits",
                dist => 'digits', max_batch => 64 });
push @models, map { { name => $_->{name}, dir => $_->{dir},
                      max_batch => $max_batch } }
              grep { $_->{name} ne 'heavy' } @{ $manifest->{models} };

my $http = join '', map {
    "    infer_model $_->{name} $_->{dir} max_batch=$_->{max_batch};\n"
} @models;

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => $http,
               config => "    location /v2/ { infer_api kserve; }\n"),
   'nginx starts with ' . scalar(@models) . ' models')
    or BAIL_OUT($InferTest::LastError);

# every batch size for every model: one python run makes all the cases
my @spec;
for my $m (@models) {
    for my $k (1 .. $m->{max_batch}) {
        push @spec, { dir => $m->{dir}, name => $m->{name}, rows => $k,
                      seed => 1000 + $k, dist => $m->{dist} // 'normal',
                      version => '1' };
    }
}

my $cases = ref_cases(\@spec);
is(scalar @$cases, scalar @spec, 'the reference made every case');

my $json = JSON::PP->new->canonical(1);
my ($bad, $n) = (0, 0);

for my $i (0 .. $#spec) {
    my $s = $spec[$i];
    my ($status, undef, $body) =
        http_request('POST', "/v2/models/$s->{name}/infer",
                     $json->encode($cases->[$i]{request}),
                     { 'Content-Type' => 'application/json' });
    $n++;

    if (!defined $status || $status != 200) {
        $bad++;
        fail("$s->{name} k=$s->{rows}: status " . ($status // 'none')
             . ": " . ($body // ''));
        next;
    }

    my $got = eval { decode_json($body) };
    my $err = $got ? json_cmp($got, $cases->[$i]{response})
                   : "not JSON: $body";
    if ($err) {
        $bad++;
        fail("$s->{name} k=$s->{rows}: $err");
    }
}

is($bad, 0, "$n answers equal the numpy reference within 1e-4");

# the digits model was trained on real data: it must still classify
my ($req, undef, $ref) = ref_kserve("$repo/models/digits", rows => 64,
                                    seed => 7, dist => 'digits',
                                    name => 'digits');
my ($status, undef, $body) = http_request('POST', '/v2/models/digits/infer',
                                          $req);
is($status, 200, 'digits: a batch of 64 test images');
my $out = decode_json($body)->{outputs}[0]{data};
my $right = 0;
for my $r (0 .. 63) {
    my @p = @$out[$r * 10 .. $r * 10 + 9];
    my ($best) = sort { $p[$b] <=> $p[$a] } 0 .. 9;
    $right++ if $best == $ref->{labels}[$r];
}
cmp_ok($right, '>=', 58, "digits: $right of 64 test images classified right");

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
