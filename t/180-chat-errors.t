# Every bad request to /v1/chat/completions and /v1/completions gets
# OpenAI's status and error shape, saying what was wrong, before anything
# is generated; every mistake in a decoder's configuration is an [emerg]
# from nginx -t.  The model is SmolLM2-135M-Instruct (make models).

use Test::Nginx::Socket 'no_plan';
use InferCheck;

my $smol = ($ENV{TEST_NGINX_REPO} // '.')
           . '/build/models/SmolLM2-135M-Instruct.Q4_1.gguf';

plan skip_all => "no $smol (make models)" unless -f $smol;

ensure_fixtures();
no_shuffle();
log_level('info');

sub chat { "POST /v1/chat/completions\n$_[0]" }
sub comp { "POST /v1/completions\n$_[0]" }

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=32m ctx=64 max_batch=4 instances=1;
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                instances=1;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ { infer_api openai; client_max_body_size 8k; }
_EOC_
    }

    if (!defined $block->error_code && !defined $block->must_die) {
        $block->set_value('error_code', 400);
    }

    if (!defined $block->no_error_log && !defined $block->must_die) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: an unknown model
--- request eval
main::chat('{"model":"nope","messages":[{"role":"user","content":"hi"}]}')
--- error_code: 404
--- response_body chomp
{"error":{"message":"The model `nope` does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}



=== TEST 2: a model that does not generate text
--- request eval
main::chat('{"model":"minilm","messages":[{"role":"user","content":"hi"}]}')
--- response_body chomp
{"error":{"message":"model \"minilm\" does not generate text (architecture \"bert\")","type":"invalid_request_error","param":"model","code":null}}



=== TEST 3: a prompt longer than the context
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"'
           . ("word " x 80) . '"}]}')
--- response_body_like: ^\{"error":\{"message":"This model's maximum context length is 64 tokens\. However, your messages resulted in \d+ tokens\.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"\}\}$



=== TEST 4: max_tokens beyond the context
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"max_tokens":50}')
--- response_body chomp
{"error":{"message":"This model's maximum context length is 64 tokens. However, you requested 81 tokens (31 in the messages, 50 in the completion).","type":"invalid_request_error","param":"max_tokens","code":"context_length_exceeded"}}



=== TEST 5: a completion's prompt longer than the context
--- request eval
main::comp('{"model":"smol","prompt":"' . ("word " x 80) . '"}')
--- response_body chomp
{"error":{"message":"This model's maximum context length is 64 tokens. However, your prompt resulted in 81 tokens.","type":"invalid_request_error","param":"prompt","code":"context_length_exceeded"}}



=== TEST 6: temperature out of range
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"temperature":3}')
--- response_body chomp
{"error":{"message":"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.","type":"invalid_request_error","param":"temperature","code":"decimal_above_max_value"}}



=== TEST 7: top_p 0
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"top_p":0}')
--- response_body chomp
{"error":{"message":"Invalid 'top_p': decimal below minimum value. Expected a value > 0, but got 0 instead.","type":"invalid_request_error","param":"top_p","code":"decimal_below_min_value"}}



=== TEST 8: a penalty out of range
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"presence_penalty":-2.5}')
--- response_body_like: ^\{"error":\{"message":"Invalid 'presence_penalty': [^"]+","type":"invalid_request_error","param":"presence_penalty","code":"decimal_below_min_value"\}\}$



=== TEST 9: n > 1
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"n":2}')
--- response_body chomp
{"error":{"message":"Unsupported value: 'n' must be 1: this server generates one of the choices (n) per request, but got 2.","type":"invalid_request_error","param":"n","code":"unsupported_value"}}



=== TEST 10: no messages
--- request eval
main::chat('{"model":"smol","messages":[]}')
--- response_body chomp
{"error":{"message":"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.","type":"invalid_request_error","param":"messages","code":"empty_array"}}



=== TEST 11: a tool message
--- request eval
main::chat('{"model":"smol","messages":[{"role":"tool","content":"hi"}]}')
--- response_body chomp
{"error":{"message":"Unsupported value: 'messages[0].role': 'tool' messages need tool calling, which this server does not do.","type":"invalid_request_error","param":"messages[0].role","code":"unsupported_value"}}



=== TEST 12: five stop strings
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}')
--- response_body chomp
{"error":{"message":"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 5 instead.","type":"invalid_request_error","param":"stop","code":"array_above_max_length"}}



=== TEST 13: logit_bias of a token beyond the vocabulary
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"logit_bias":{"60000":1}}')
--- response_body chomp
{"error":{"message":"Invalid 'logit_bias': token 60000 is not in the vocabulary of model \"smol\" (49152 tokens)","type":"invalid_request_error","param":"logit_bias","code":null}}



=== TEST 14: a completion's token beyond the vocabulary
--- request eval
main::comp('{"model":"smol","prompt":[1,2,99999]}')
--- response_body chomp
{"error":{"message":"Invalid 'prompt': token 99999 is not in the vocabulary of model \"smol\" (49152 tokens)","type":"invalid_request_error","param":"prompt","code":null}}



=== TEST 15: an empty prompt
--- request eval
main::comp('{"model":"smol","prompt":""}')
--- response_body chomp
{"error":{"message":"the prompt is empty: it gives no token","type":"invalid_request_error","param":"prompt","code":null}}



=== TEST 16: stream_options without stream
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}')
--- response_body chomp
{"error":{"message":"The 'stream_options' parameter is only allowed when 'stream' is enabled.","type":"invalid_request_error","param":"stream_options","code":"invalid_value"}}



=== TEST 17: malformed JSON
--- request eval
main::chat('{"model":"smol","messages":[')
--- response_body_like: ^\{"error":\{"message":"malformed JSON at line 1, column \d+: [^"]+","type":"invalid_request_error","param":null,"code":null\}\}$



=== TEST 18: invalid UTF-8 in a message
--- request eval
main::chat(qq({"model":"smol","messages":[{"role":"user","content":"caf\xc3"}]}))
--- response_body_like: ^\{"error":\{"message":"malformed JSON at line 1, column \d+: unable to decode byte 0xc3.*","type":"invalid_request_error","param":null,"code":null\}\}$



=== TEST 19: GET is not allowed
--- request
GET /v1/chat/completions
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":{"message":"method GET is not allowed here, use POST","type":"invalid_request_error","param":null,"code":null}}



=== TEST 20: a body over client_max_body_size
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":"' . ("x" x 9000) . '"}]}')
--- error_code: 413
--- response_body_like: ^\{"error":\{"message":"[^"]+","type":"invalid_request_error","param":null,"code":null\}\}$



=== TEST 21: an image part
--- request eval
main::chat('{"model":"smol","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}')
--- response_body_like: ^\{"error":\{"message":"[^"]*image[^"]*","type":"invalid_request_error","param":"messages\[0\]\.content\[0\][^"]*","code":"[a-z_]+"\}\}$



=== TEST 22: kv_cache under a megabyte
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=512k;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": invalid value "kv_cache=512k" in \S+nginx\.conf:\d+}



=== TEST 23: ctx beyond what the cache holds
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=8m ctx=4096;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": ctx=4096 is more than the KV cache holds \(176 positions\) in \S+nginx\.conf:\d+}



=== TEST 24: ctx beyond the model's context
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=1024m ctx=9000;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": ctx=9000 is more than the model's context_length \(8192 positions\) in \S+nginx\.conf:\d+}



=== TEST 25: an unknown chat template
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=8m chat_template=vicuna;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": \S+SmolLM2-135M-Instruct\.Q4_1\.gguf: [^\n]*vicuna[^\n]* in \S+nginx\.conf:\d+}



=== TEST 26: an encoder's options on a decoder
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=8m truncate=off;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": max_seq= and truncate= are for text encoders; a decoder's longest sequence is ctx= in \S+nginx\.conf:\d+}



=== TEST 27: a step budget smaller than the running sequences
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=8m max_batch=32 max_batch_tokens=16;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": max_batch_tokens=16 is less than max_batch=32, one token of each running sequence in \S+nginx\.conf:\d+}



=== TEST 28: invalid kv_cache
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=lots;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "smol": invalid value "kv_cache=lots" in \S+nginx\.conf:\d+}



=== TEST 29: the chatml template by name serves the same prompt
--- http_config
    infer_model smol $TEST_NGINX_REPO/build/models/SmolLM2-135M-Instruct.Q4_1.gguf
                kv_cache=8m ctx=128 chat_template=chatml instances=1;
    # its prompt takes more than 30 s under memcheck
    infer_timeout 300s;
--- request eval
main::chat('{"model":"smol","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":1,"temperature":0}')
--- timeout eval
$ENV{TEST_NGINX_USE_VALGRIND} ? 300 : 3
--- error_code: 200
--- response_body_like: ^\{"id":"chatcmpl-[0-9a-f]+","object":"chat\.completion","created":\d+,"model":"smol","choices":\[\{"index":0,"message":\{"role":"assistant","content":"[^"]*"\},"logprobs":null,"finish_reason":"(length|stop)"\}\],"usage":\{"prompt_tokens":\d+,"completion_tokens":[01],"total_tokens":\d+\}\}$
