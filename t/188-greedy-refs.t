# The 14 prompts of the greedy fixtures (t/fixtures/greedy, made with
# llama.cpp: its run of SmolLM2's Q4_1 GGUF and of the same weights in
# F32) through nginx, 48 greedy tokens each, from a default model and
# from a precision=q8 one.
#
# The default multiplies the Q4_1 weights by F32 activations: the
# arithmetic of llama.cpp's F32 run, whose logits it gives within 1e-5
# (kernels/test/test_greedy.c), so its text is that run's up to the run's
# first near tie on every prompt, on any CPU.  precision=q8 rounds the
# activations to 8 bits as llama.cpp's Q4_1 run does; each rounding
# tips on the last bit of what came before it, and llama.cpp's own sums
# run in an order that changes with the CPU's vector width, so which of
# the two runs q8 shares more text with is reported, not asserted; that
# q8 is not the F32 arithmetic is: it parts from the default somewhere.

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

# each prompt's F32 run up to its first near tie, as text
my @ids_before = map {
    my $r = $_->{f32};
    my $n = defined $r->{near_tie} ? $r->{near_tie} : scalar @{ $r->{tokens} };
    join(',', @{ $r->{tokens} }[0 .. $n - 1]);
} @prompts;

my $py = $ENV{TEST_INFER_PYTHON} || 'python3';
open my $dt, '-|', $py, "$repo/t/lib/gguf_detok.py", '--skip-special', $smol,
    @ids_before
    or die "gguf_detok.py: $!";
my @before = map { JSON::PP->new->allow_nonref->decode($_) } <$dt>;
close $dt;
is(scalar @before, scalar @prompts, 'the F32 runs detokenized before their '
   . 'first near ties');

my %sum = map { $_ => 0 } qw(q8_q4 f32_q4 f32_f32 q8_f32);
my ($answered, $as_f32, $q8_differs) = (0, 0, 0);

for my $i (0 .. $#prompts) {
    my $p = $prompts[$i];
    my $q8 = text('q8', $p->{ids});
    my $f32 = text('f32', $p->{ids});
    next unless defined $q8 && defined $f32;
    $answered++;

    # the text up to the near tie may end inside a character
    (my $pre = $before[$i] // "\x{fffd}") =~ s/\x{fffd}+\z//;

    if (substr($f32, 0, length $pre) eq $pre) {
        $as_f32++;
    } else {
        diag("$p->{name}: the default's text is not the F32 run's up to its "
             . "near tie: " . $J->encode([$f32, $pre]));
    }

    $q8_differs++ if $q8 ne $f32;

    # the runs' texts as JSON decoded them: characters, as ours are
    my ($rq, $rf) = ($p->{q4_1}{text}, $p->{f32}{text});
    $sum{q8_q4} += shared($q8, $rq);
    $sum{f32_q4} += shared($f32, $rq);
    $sum{f32_f32} += shared($f32, $rf);
    $sum{q8_f32} += shared($q8, $rf);
    diag(sprintf "%-12s q8: %3d of the Q4_1 run's, %3d of the F32 run's; "
         . "default: %3d, %3d (the F32 run's first near tie at %s)",
         $p->{name}, shared($q8, $rq), shared($q8, $rf), shared($f32, $rq),
         shared($f32, $rf), $p->{f32}{near_tie} // 'none');
}

is($answered, scalar @prompts, 'every prompt answered in both precisions');

is($as_f32, scalar @prompts, "the default's text is llama.cpp's F32 run's up "
   . "to that run's first near tie, on every prompt");

ok($q8_differs > 0, "precision=q8 is not the F32 arithmetic: its text "
   . "differs from the default's on $q8_differs of the prompts");

diag("over the prompts, q8 shares $sum{q8_q4} characters with llama.cpp's "
     . "Q4_1 run and $sum{q8_f32} with its F32 run; the default "
     . "$sum{f32_q4} and $sum{f32_f32}");

stop_nginx();

done_testing();
