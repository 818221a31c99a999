# precision=q8 on SmolLM2-135M-Instruct's Q4_1 GGUF (make models): the
# activations are rounded to 8 bits before the quantized products, as
# llama.cpp does, where the default keeps them in F32.  Each is held to
# its llama.cpp reference (t/017, kernels/test/test_greedy.c) on the
# greedy fixtures' "long" prompt (325 tokens, given as ids): the default
# gives llama.cpp's run of the same weights in F32, all 48 recorded
# tokens; precision=q8 gives llama.cpp's own Q4_1 run up to that run's
# first near tie (its top two logits less than 0.05 apart, at the 8th
# token here; past a near tie either choice is the arithmetic's).  The
# two llama.cpp runs part at the 16th token, where the Q4_1 run's lead is
# 0.08 and q8's, the other way, 0.07: on this prompt q8 now gives the F32
# run's 48 tokens, so which arithmetic each follows is t/188's, over 14
# prompts.  nginx -t refuses q8 where it would mean nothing.  The
# same prompt a second time takes its first 20 blocks from the KV cache
# (prefix caching) and gives the same text.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

our ($ids, $q8_prefix, $f32_text, $smol);

BEGIN {
    my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/greedy';
    my $m = eval {
        open my $in, '<', "$fix/manifest.json" or die;
        local $/;
        JSON::PP->new->decode(scalar <$in>);
    };
    my ($p) = $m ? grep { $_->{name} eq 'long' } @{ $m->{prompts} } : ();

    my $repo = $ENV{TEST_NGINX_REPO} // '.';
    $smol = "$repo/build/models/SmolLM2-135M-Instruct.Q4_1.gguf";

    if ($p && -f $smol) {
        my $j = JSON::PP->new->allow_nonref;
        my $q = $p->{q4_1};
        my $n = defined $q->{near_tie} ? $q->{near_tie} : 48;

        # the Q4_1 run's tokens before its first near tie, as text
        my $py = $ENV{TEST_INFER_PYTHON} || 'python3';
        my $ids_before = join(',', @{ $q->{tokens} }[0 .. $n - 1]);
        my $pre = `$py $repo/t/lib/gguf_detok.py $smol $ids_before`;
        chomp $pre;

        if ($pre =~ /^"/) {
            $pre =~ s/"$//;
            $ids = join(',', @{ $p->{ids} });
            $q8_prefix = quotemeta $pre;
            $f32_text = quotemeta $j->encode($p->{f32}{text});
        }
    }
}

plan skip_all => "no $smol (make models)" unless -f $smol;
plan skip_all => 'no greedy fixtures (make fixtures: it builds llama.cpp)'
    . ' or no gguf package' unless $ids;

no_shuffle();

$ENV{TEST_NGINX_SMOL} = $smol;

sub comp {
    "POST /v1/completions\n" . '{"model":"' . $_[0] . '","prompt":[' . $ids
    . '],"max_tokens":48,"temperature":0,"ignore_eos":true}'
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model q8 $TEST_NGINX_SMOL kv_cache=32m ctx=512 instances=1
                precision=q8;
    infer_model f32 $TEST_NGINX_SMOL kv_cache=32m ctx=512 instances=1;
    infer_timeout 900s;
_EOC_
    }

    # a second natively; under memcheck the 325-token prompt and its 48
    # tokens take minutes, past the blocks' 60 s
    if ($ENV{TEST_NGINX_USE_VALGRIND} && defined $block->timeout) {
        $block->set_value('timeout', 900);
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ { infer_api openai; }
    location = /metrics { infer_metrics; }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->must_die) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: precision=q8 gives llama.cpp's Q4_1 run up to its first near tie
--- request eval
main::comp('q8')
--- timeout: 60
--- error_code: 200
--- response_body_like eval
qr{^\{"id":"cmpl-[0-9a-f]+","object":"text_completion","created":\d+,"model":"q8","choices":\[\{"text":$main::q8_prefix[^"]*(?:\\.[^"\\]*)*","index":0,"logprobs":null,"finish_reason":"length"\}\],"usage":\{"prompt_tokens":325,"completion_tokens":48,"total_tokens":373\}\}$}



=== TEST 2: the default (F32 activations) gives llama.cpp's F32 run
--- request eval
main::comp('f32')
--- timeout: 60
--- error_code: 200
--- response_body_like eval
qr{^\{"id":"cmpl-[0-9a-f]+","object":"text_completion","created":\d+,"model":"f32","choices":\[\{"text":$main::f32_text,"index":0,"logprobs":null,"finish_reason":"length"\}\],"usage":\{"prompt_tokens":325,"completion_tokens":48,"total_tokens":373\}\}$}



=== TEST 3: q8 on a model with no quantized weights means nothing
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits precision=q8;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": precision=q8 rounds what meets quantized weights, and ".*/models/digits" has none}



=== TEST 4: q8 is the CPU's: device=auto refuses it
--- http_config
    infer_model q8 $TEST_NGINX_SMOL precision=q8 device=auto;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "q8": precision=q8 is the CPU's \(device=cpu\), a GPU computes in fp32, tf32, fp16 or bf16}



=== TEST 5: the same prompt again finds its blocks cached, the same text
--- http_config
    infer_model f32 $TEST_NGINX_SMOL kv_cache=24m ctx=512 instances=1;
    infer_timeout 900s;
--- request eval
[main::comp('f32'), main::comp('f32'), "GET /metrics"]
--- timeout: 60
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr{"text":$main::f32_text,"index":0,.*"prompt_tokens":325,"completion_tokens":48,},
 qr{"text":$main::f32_text,"index":0,.*"prompt_tokens":325,"completion_tokens":48,},
 qr{^ngx_infer_prompt_tokens_cached\{model="f32"\} 320$}m]
