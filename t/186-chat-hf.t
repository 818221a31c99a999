# A Hugging Face Llama directory served as a decoder: t/lib/gen_llama.py's
# random F32 model written as config.json, model.safetensors,
# tokenizer.json, tokenizer_config.json (ChatML) and
# generation_config.json (t/fixtures/llama/hf/f32).  A completion of
# token ids at temperature 0 is the float64 reference's greedy
# continuation, as text through the directory's tokenizer; a chat goes
# through its template; every mistake in a directory is an [emerg] from
# nginx -t naming the file and the problem.

use Test::Nginx::Socket 'no_plan';
use InferCheck;
use JSON::PP ();

our ($serve, $prompt, $text);

BEGIN {
    my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/llama';
    my $m = eval {
        open my $in, '<', "$fix/manifest.json" or die;
        local $/;
        JSON::PP->new->decode(scalar <$in>);
    };
    $serve = $m && $m->{hf_serve};
}

plan skip_all => 'no Hugging Face directories in t/fixtures/llama (the '
                 . 'tokenizers package, then make fixtures)' unless $serve;

$prompt = join(',', @{ $serve->{prompt} });
$text = quotemeta $serve->{text};

ensure_fixtures();
no_shuffle();
log_level('info');

sub comp { "POST /v1/completions\n$_[0]" }
sub chat { "POST /v1/chat/completions\n$_[0]" }

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model tiny $TEST_NGINX_FIXTURES/llama/hf/f32
                kv_cache=8m ctx=128 max_batch=4 instances=1;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ { infer_api openai; }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->must_die) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: a completion of token ids is the reference's greedy text
--- request eval
main::comp('{"model":"tiny","prompt":[' . $main::prompt . '],"max_tokens":4,"temperature":0}')
--- error_code: 200
--- response_body_like eval
qr{^\{"id":"cmpl-[0-9a-f]+","object":"text_completion","created":\d+,"model":"tiny","choices":\[\{"text":"$main::text","index":0,"logprobs":null,"finish_reason":"length"\}\],"usage":\{"prompt_tokens":6,"completion_tokens":4,"total_tokens":10\}\}$}



=== TEST 2: a chat through tokenizer_config.json's ChatML template
--- request eval
main::chat('{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"temperature":0}')
--- error_code: 200
--- response_body_like: ^\{"id":"chatcmpl-[0-9a-f]+","object":"chat\.completion","created":\d+,"model":"tiny","choices":\[\{"index":0,"message":\{"role":"assistant","content":"[^"]*"\},"logprobs":null,"finish_reason":"(length|stop)"\}\],"usage":\{"prompt_tokens":\d+,"completion_tokens":[012],"total_tokens":\d+\}\}$



=== TEST 3: a template by name where tokenizer_config.json has none
--- http_config
    infer_model tiny $TEST_NGINX_FIXTURES/llama/broken/hf_no_template
                kv_cache=8m ctx=128 chat_template=chatml instances=1;
--- request eval
main::chat('{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"temperature":0}')
--- error_code: 200
--- response_body_like: "completion_tokens":[01],



=== TEST 4: rope_scaling in config.json
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_rope_scaling;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_rope_scaling/config\.json: key "rope_scaling" is not null \(rope_type "linear"\): RoPE scaling is not supported in \S+nginx\.conf:\d+}



=== TEST 5: a key missing from config.json
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_no_layers;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_no_layers/config\.json: key "num_hidden_layers" is missing in \S+nginx\.conf:\d+}



=== TEST 6: a tensor of the wrong shape
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_wrong_k;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_wrong_k/model\.safetensors: tensor "model\.layers\.0\.self_attn\.k_proj\.weight" is \[64, 64\]: expected \[32, 64\] \(num_key_value_heads x head_dim, hidden_size in \S+/broken/hf_wrong_k/config\.json\) in \S+nginx\.conf:\d+}



=== TEST 7: a tensor of an integer type
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_q_i32;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_q_i32/model\.safetensors: tensor "model\.layers\.0\.self_attn\.q_proj\.weight" is I32: expected F32, F16 or BF16 in \S+nginx\.conf:\d+}



=== TEST 8: no tokenizer.json
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_no_tokenizer;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_no_tokenizer/tokenizer\.json: cannot open: No such file or directory in \S+nginx\.conf:\d+}



=== TEST 9: no chat template
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_no_template;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_no_template/tokenizer_config\.json: no "chat_template" \(nor chat_template\.jinja\): name one with chat_template= in \S+nginx\.conf:\d+}



=== TEST 10: an end id that is not a token
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_eos_id;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_eos_id/generation_config\.json: key "eos_token_id" is not an id of tokenizer\.json \(0 to 299\) nor a list of them in \S+nginx\.conf:\d+}



=== TEST 11: an eos_token the tokenizer does not have
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/llama/broken/hf_eos_token;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/hf_eos_token/tokenizer_config\.json: eos_token "</s>" is not a token of tokenizer\.json in \S+nginx\.conf:\d+}
