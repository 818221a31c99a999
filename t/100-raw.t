# The simplest clients: Content-Type: application/octet-stream with the
# input tensor itself (FP32, little-endian, row-major) in, the output
# tensor out.  Parity with numpy, and the errors.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();

ok(start_nginx(workers => 1, master => 1, log_level => 'info',
               http_config => "    infer_model digits $repo/models/digits "
                              . "max_batch=8;\n",
               config => "    location = /score { infer digits; }\n"),
   'nginx starts') or BAIL_OUT($InferTest::LastError);

my %oct = ('Content-Type' => 'application/octet-stream');

for my $k (1, 3, 8) {
    my (undef, undef, $doc) = ref_kserve("$repo/models/digits", rows => $k,
                                         seed => 20 + $k, dist => 'digits',
                                         name => 'digits');
    my $raw = pack('f<*', @{ $doc->{request}{inputs}[0]{data} });
    my ($st, $h, $b) = http_request('POST', '/score', $raw, \%oct);
    is($st, 200, "$k rows: 200");
    is($h->{'content-type'}, 'application/octet-stream',
       "$k rows: the answer is octet-stream");
    is(length $b, $k * 10 * 4, "$k rows: $k x 10 FP32 values");
    my @got = unpack('f<*', $b);
    is(json_cmp(\@got, $doc->{response}{outputs}[0]{data}), undef,
       "$k rows: equal to the reference");
}

my @bad = (
    [pack('f<*', (0.5) x 63), 'a raw body of 252 bytes is not a whole '
     . 'number of rows of 64 FP32 values (256 bytes each)', 'a partial row'],
    [pack('f<*', (0.5) x (64 * 9)), 'inputs[0].shape: 9 rows exceed '
     . 'max_batch 8 of model "digits"', 'more rows than max_batch'],
    [pack('f<*', (0.5) x 10, 9**9**9, (0.5) x 53), 'the raw body holds NaN '
     . 'or Infinity at value 10', 'Infinity'],
    [pack('f<*', (0.5) x 64, -sin(9**9**9), (0.5) x 63), 'the raw body holds '
     . 'NaN or Infinity at value 64', 'NaN'],
);

for my $c (@bad) {
    my ($st, $h, $b) = http_request('POST', '/score', $c->[0], \%oct);
    is($st, 400, "$c->[2]: 400");
    is($b, encode_json({ error => $c->[1] }), "$c->[2]: says so");
}

my ($st, undef, $b) = http_request('POST', '/score', '', \%oct);
is($st, 400, 'an empty raw body: 400');

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
