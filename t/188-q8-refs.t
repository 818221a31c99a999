# Which llama.cpp run each precision follows, over the 14 prompts of the
# greedy fixtures (t/fixtures/greedy, made with llama.cpp: its run of
# SmolLM2's Q4_1 GGUF and of the same weights in F32), through nginx:
# 48 greedy tokens of each prompt from a precision=q8 model and from a
# default one.  One prompt is no test of the arithmetic (near ties tip
# either way, t/187), so the measure is the text each shares with a run
# from the start, summed over the prompts: q8, which rounds activations
# to 8 bits as llama.cpp does, shares more of the Q4_1 run's than the
# default does, and the default, in F32, more of the F32 run's than q8
# does.  A q8 that computed in F32, or the reverse, fails here.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use Cwd ();
use InferTest;

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $smol = "$repo/build/models/SmolLM2-135M-Instruct.Q4_1.gguf";
my $fix = ($ENV{TEST_NGINX_FIXTURES} // "$repo/t/fixtures") . '/greedy';

plan skip_all => "no $smol (make models)" unless -f $smol;
plan skip_all => 'no greedy fixtures (make fixtures: it builds llama.cpp)'
    unless -f "$fix/manifest.json";

my $J = JSON::PP->new->utf8->canonical(1);
my $m = do {
    open my $in, '<', "$fix/manifest.json" or die;
    local $/;
    $J->decode(scalar <$in>);
};
my @prompts = @{ $m->{prompts} };

ok(start_nginx(http_config => <<"_EOC_", config => <<'_EOC_'),
    infer_model q8 $smol kv_cache=32m ctx=512 instances=1 precision=q8;
    infer_model f32 $smol kv_cache=32m ctx=512 instances=1;
_EOC_
        location /v1/ { infer_api openai; }
_EOC_
   'nginx starts with SmolLM2 in both precisions')
    or BAIL_OUT($InferTest::LastError);

sub text {
    my ($model, $ids) = @_;
    my $body = $J->encode({ model => $model, prompt => $ids,
                            max_tokens => 48, temperature => 0,
                            ignore_eos => JSON::PP::true });
    my ($st, undef, $b) = http_request('POST', '/v1/completions', $body,
                                       { 'Content-Type' => 'application/json' },
                                       timeout => 120);
    return undef unless defined $st && $st == 200;
    my $r = eval { $J->decode($b) } or return undef;
    return $r->{choices}[0]{text};
}

# the characters two texts share from the start
sub shared {
    my ($a, $b) = @_;
    my $n = 0;
    $n++ while $n < length($a) && $n < length($b)
               && substr($a, $n, 1) eq substr($b, $n, 1);
    return $n;
}

my %sum = map { $_ => 0 } qw(q8_q4 f32_q4 f32_f32 q8_f32);
my $answered = 0;

for my $p (@prompts) {
    my $q8 = text('q8', $p->{ids});
    my $f32 = text('f32', $p->{ids});
    next unless defined $q8 && defined $f32;
    $answered++;

    # the runs' texts as JSON decoded them: characters, as ours are
    my ($rq, $rf) = ($p->{q4_1}{text}, $p->{f32}{text});
    $sum{q8_q4} += shared($q8, $rq);
    $sum{f32_q4} += shared($f32, $rq);
    $sum{f32_f32} += shared($f32, $rf);
    $sum{q8_f32} += shared($q8, $rf);
    diag(sprintf "%-12s q8: %3d of the Q4_1 run's, %3d of the F32 run's; "
         . "default: %3d, %3d", $p->{name}, shared($q8, $rq),
         shared($q8, $rf), shared($f32, $rq), shared($f32, $rf));
}

is($answered, scalar @prompts, 'every prompt answered in both precisions');

ok($sum{q8_q4} > $sum{f32_q4}, "q8 shares more of llama.cpp's Q4_1 run "
   . "($sum{q8_q4} characters over the prompts) than the default does "
   . "($sum{f32_q4})");

ok($sum{f32_f32} > $sum{q8_f32}, "the default shares more of llama.cpp's "
   . "F32 run ($sum{f32_f32}) than q8 does ($sum{q8_f32})");

stop_nginx();

done_testing();
