# Every bad request to /v1/embeddings (and a text model's KServe input)
# gets OpenAI's status and error shape, saying what was wrong, and nothing
# worse than that lands in the error log.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');

sub post { "POST /v1/embeddings\n$_[0]" }

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_batch=4 max_batch_tokens=300;
    infer_model strict $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_seq=16 truncate=off;
    infer_model digits $TEST_NGINX_REPO/models/digits;
    # TEST 21's 256 tokens take a millisecond natively, more than the
    # default 30 s under memcheck
    infer_timeout 300s;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v1/ { infer_api openai; client_max_body_size 8k; }
    location /v2 { infer_api kserve; }
_EOC_
    }

    if (!defined $block->error_code) {
        $block->set_value('error_code', 400);
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: malformed JSON: jansson's line and column
--- request eval
main::post('{"model":"minilm",
"input": "x" "y"}')
--- response_body chomp
{"error":{"message":"malformed JSON at line 2, column 16: '}' expected near '\"y\"'","type":"invalid_request_error","param":null,"code":null}}



=== TEST 2: truncated JSON
--- request eval
main::post('{"model":"minilm","input":')
--- response_body chomp
{"error":{"message":"malformed JSON at line 1, column 26: unexpected token near end of file","type":"invalid_request_error","param":null,"code":null}}



=== TEST 3: the body is not an object
--- request eval
main::post('["minilm"]')
--- response_body chomp
{"error":{"message":"Invalid type for the request body: expected an object, but got an array instead.","type":"invalid_request_error","param":null,"code":"invalid_type"}}



=== TEST 4: no input
--- request eval
main::post('{"model":"minilm"}')
--- response_body chomp
{"error":{"message":"Missing required parameter: 'input'.","type":"invalid_request_error","param":"input","code":"missing_required_parameter"}}



=== TEST 5: no model
--- request eval
main::post('{"input":"x"}')
--- response_body chomp
{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":"model","code":null}}



=== TEST 6: model of the wrong type
--- request eval
main::post('{"model":3,"input":"x"}')
--- response_body chomp
{"error":{"message":"Invalid type for 'model': expected a string, but got an integer instead.","type":"invalid_request_error","param":"model","code":"invalid_type"}}



=== TEST 7: an unknown model is 404 model_not_found
--- request eval
main::post('{"model":"gpt-4","input":"x"}')
--- error_code: 404
--- response_body chomp
{"error":{"message":"The model `gpt-4` does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}



=== TEST 8: a model that is not a text model
--- request eval
main::post('{"model":"digits","input":"x"}')
--- response_body chomp
{"error":{"message":"model \"digits\" is not a text embedding model (architecture \"mlp\")","type":"invalid_request_error","param":"model","code":null}}



=== TEST 9: an empty string
--- request eval
main::post('{"model":"minilm","input":""}')
--- response_body_like: ^\{"error":\{"message":"'\$\.input' is invalid: the string is empty\. [^"]*","type":"invalid_request_error","param":"input","code":null\}\}$



=== TEST 10: an empty array
--- request eval
main::post('{"model":"minilm","input":[]}')
--- response_body_like: ^\{"error":\{"message":"'\$\.input' is invalid: the array is empty\. [^"]*","type":"invalid_request_error","param":"input","code":null\}\}$



=== TEST 11: strings and numbers mixed
--- request eval
main::post('{"model":"minilm","input":["a",1]}')
--- response_body chomp
{"error":{"message":"Invalid type for 'input[1]': expected a string, as input[0], but got an integer instead.","type":"invalid_request_error","param":"input","code":"invalid_type"}}



=== TEST 12: arrays nested too deep
--- request eval
main::post('{"model":"minilm","input":[[[1]]]}')
--- response_body chomp
{"error":{"message":"Invalid type for 'input[0][0]': expected an integer, but got an array instead.","type":"invalid_request_error","param":"input","code":"invalid_type"}}



=== TEST 13: an empty array of tokens
--- request eval
main::post('{"model":"minilm","input":[[101,102],[]]}')
--- response_body_like: ^\{"error":\{"message":"'\$\.input' is invalid: input\[1\] is an empty array of tokens\. [^"]*","type":"invalid_request_error","param":"input","code":null\}\}$



=== TEST 14: a negative token id
--- request eval
main::post('{"model":"minilm","input":[101,-2,102]}')
--- response_body chomp
{"error":{"message":"Invalid 'input[1]': integer below minimum value. Expected a value >= 0, but got -2 instead.","type":"invalid_request_error","param":"input","code":"integer_below_min_value"}}



=== TEST 15: a token id beyond the vocabulary
--- request eval
main::post('{"model":"minilm","input":[[101,102],[101,30522,102]]}')
--- response_body chomp
{"error":{"message":"input[1]: token id 30522 at position 1 is not in the vocabulary of model \"minilm\" (30522 tokens)","type":"invalid_request_error","param":"input","code":null}}



=== TEST 16: invalid UTF-8 in a string
--- request eval
main::post(qq({"model":"minilm","input":["ok","a\xff"]}))
--- response_body chomp
{"error":{"message":"malformed JSON at line 1, column 34: unable to decode byte 0xff near '\"a'","type":"invalid_request_error","param":null,"code":null}}



=== TEST 17: a lone surrogate escape
--- request eval
main::post('{"model":"minilm","input":"\ud800"}')
--- response_body chomp
{"error":{"message":"malformed JSON at line 1, column 34: invalid Unicode '\\uD800' near '\"\\ud800\"'","type":"invalid_request_error","param":null,"code":null}}



=== TEST 18: more inputs than max_batch
--- request eval
main::post('{"model":"minilm","input":["a","b","c","d","e"]}')
--- response_body chomp
{"error":{"message":"5 inputs, model \"minilm\" takes at most 4 in one request (max_batch)","type":"invalid_request_error","param":"input","code":null}}



=== TEST 19: a text over max_seq with truncate=off
--- request eval
main::post('{"model":"strict","input":["short", "' . ('word ' x 20) . '"]}')
--- response_body chomp
{"error":{"message":"input[1]: the text is 22 tokens, more than the 16 of model \"strict\" (max_seq)","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}



=== TEST 20: token ids over max_seq with truncate=off
--- request eval
main::post('{"model":"strict","input":[' . CORE::join(',', (1000) x 17) . ']}')
--- response_body chomp
{"error":{"message":"input[0]: 17 tokens, more than the 16 of model \"strict\" (max_seq)","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}



=== TEST 21: a text over max_seq is cut by default, and answered
--- request eval
main::post('{"model":"minilm","input":"' . ('word ' x 300) . '"}')
--- error_code: 200
--- response_body_like: "usage":\{"prompt_tokens":256,"total_tokens":256\}\}$
--- timeout eval
$ENV{TEST_NGINX_USE_VALGRIND} ? 300 : 3



=== TEST 22: texts that add up to more than max_batch_tokens
--- request eval
main::post('{"model":"minilm","input":["' . ('word ' x 200) . '","' . ('word ' x 200) . '"]}')
--- response_body chomp
{"error":{"message":"input[1]: the inputs add up to more than the 300 tokens that model \"minilm\" computes in one batch (max_batch_tokens)","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}



=== TEST 23: encoding_format that OpenAI does not have
--- request eval
main::post('{"model":"minilm","input":"x","encoding_format":"int8"}')
--- response_body chomp
{"error":{"message":"Invalid value: 'int8'. Supported values are: 'float' and 'base64'.","type":"invalid_request_error","param":"encoding_format","code":"invalid_value"}}



=== TEST 24: dimensions 0
--- request eval
main::post('{"model":"minilm","input":"x","dimensions":0}')
--- response_body chomp
{"error":{"message":"Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead.","type":"invalid_request_error","param":"dimensions","code":"integer_below_min_value"}}



=== TEST 25: dimensions beyond the model's
--- request eval
main::post('{"model":"minilm","input":"x","dimensions":385}')
--- response_body chomp
{"error":{"message":"dimensions 385 is more than the 384 of model \"minilm\"","type":"invalid_request_error","param":"dimensions","code":null}}



=== TEST 26: dimensions as a string
--- request eval
main::post('{"model":"minilm","input":"x","dimensions":"4"}')
--- response_body chomp
{"error":{"message":"Invalid type for 'dimensions': expected an integer, but got a string instead.","type":"invalid_request_error","param":"dimensions","code":"invalid_type"}}



=== TEST 27: user of the wrong type
--- request eval
main::post('{"model":"minilm","input":"x","user":5}')
--- response_body chomp
{"error":{"message":"Invalid type for 'user': expected a string, but got an integer instead.","type":"invalid_request_error","param":"user","code":"invalid_type"}}



=== TEST 28: an empty body
--- request
POST /v1/embeddings
--- response_body chomp
{"error":{"message":"empty request body, expected an OpenAI embeddings request","type":"invalid_request_error","param":null,"code":null}}



=== TEST 29: a body over client_max_body_size
--- request eval
main::post('{"model":"minilm","input":"' . ('x' x 9000) . '"}')
--- error_code: 413
--- response_body chomp
{"error":{"message":"request body is larger than client_max_body_size 8192","type":"invalid_request_error","param":null,"code":null}}



=== TEST 30: GET /v1/embeddings
--- request
GET /v1/embeddings
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":{"message":"method GET is not allowed here, use POST","type":"invalid_request_error","param":null,"code":null}}



=== TEST 31: an unknown path
--- request
GET /v1/audio/speech
--- error_code: 404
--- response_body chomp
{"error":{"message":"Invalid URL (GET /v1/audio/speech)","type":"invalid_request_error","param":null,"code":null}}



=== TEST 32: an unknown model's object
--- request
GET /v1/models/gpt-4
--- error_code: 404
--- response_body chomp
{"error":{"message":"The model `gpt-4` does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}



=== TEST 33: the model list
--- request
GET /v1/models
--- error_code: 200
--- response_body_like: ^\{"object":"list","data":\[\{"id":"minilm","object":"model","created":\d+,"owned_by":"ngx_infer"\},\{"id":"strict","object":"model","created":\d+,"owned_by":"ngx_infer"\},\{"id":"digits","object":"model","created":\d+,"owned_by":"ngx_infer"\}\]\}$



=== TEST 34: KServe: numbers for a text model's BYTES input
--- request
POST /v2/models/minilm/infer
{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":[1,2]}]}
--- response_body_like: ^\{"error":"inputs\[0\]\.data.*"\}$



=== TEST 35: KServe: FP32 for a text model
--- request
POST /v2/models/minilm/infer
{"inputs":[{"name":"text","datatype":"FP32","shape":[1],"data":[1]}]}
--- response_body_like: ^\{"error":"inputs\[0\]\.datatype: .*BYTES.*"\}$



=== TEST 36: KServe: texts of shape [2, 2]
--- request
POST /v2/models/minilm/infer
{"inputs":[{"name":"text","datatype":"BYTES","shape":[2,2],"data":["a","b","c","d"]}]}
--- response_body chomp
{"error":"inputs[0].shape: model \"minilm\" takes texts, one per row: [k] or [k, 1]"}



=== TEST 37: KServe: more texts than max_batch
--- request
POST /v2/models/minilm/infer
{"inputs":[{"name":"text","datatype":"BYTES","shape":[5],"data":["a","b","c","d","e"]}]}
--- response_body chomp
{"error":"inputs[0].shape: 5 texts exceed max_batch 4 of model \"minilm\""}



=== TEST 38: KServe: a text over max_seq with truncate=off
--- request eval
"POST /v2/models/strict/infer\n" . '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["' . ('word ' x 20) . '"]}]}'
--- response_body chomp
{"error":"inputs[0].data[0]: the text is 22 tokens, more than the 16 of model \"strict\" (max_seq)"}



=== TEST 39: KServe: a raw octet-stream body for a text model
--- request
POST /v2/models/minilm/infer
abcd
--- more_headers
Content-Type: application/octet-stream
--- response_body chomp
{"error":"a raw octet-stream body is a tensor of FP32 rows, but model \"minilm\" takes text: send JSON, or BYTES in binary tensor data"}



=== TEST 40: KServe binary BYTES: 4-byte lengths and the strings, answered
--- request eval
my $j = '{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":21}}]}';
"POST /v2/models/minilm/infer\n" . $j . pack('V', 5) . 'hello' . pack('V', 8) . 'world, 2'
--- more_headers eval
"Inference-Header-Content-Length: " . length('{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":21}}]}')
--- error_code: 200
--- response_body_like: ^\{"model_name":"minilm","model_version":"1","outputs":\[\{"name":"embedding","datatype":"FP32","shape":\[2,384\],"data":\[



=== TEST 41: KServe binary BYTES: a length that runs past the data
--- request eval
"POST /v2/models/minilm/infer\n" . '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":8}}]}' . pack('V', 100) . 'abcd'
--- more_headers eval
"Inference-Header-Content-Length: " . length('{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":8}}]}')
--- response_body chomp
{"error":"inputs[0]: binary BYTES element 0: length 100 runs past binary_data_size 8"}



=== TEST 42: KServe binary BYTES: invalid UTF-8
--- request eval
"POST /v2/models/minilm/infer\n" . '{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":11}}]}' . pack('V', 1) . 'a' . pack('V', 2) . "\xc3\x28"
--- more_headers eval
"Inference-Header-Content-Length: " . length('{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":11}}]}')
--- response_body chomp
{"error":"inputs[0]: element 1 is not valid UTF-8"}



=== TEST 43: a gzip body (Triton's clients compress so) is inflated and answered
--- request eval
use IO::Compress::Gzip qw(gzip);
my $in = '{"model":"minilm","input":["first text","second text"]}';
my $z; gzip(\$in => \$z);
"POST /v1/embeddings\n$z"
--- more_headers
Content-Encoding: gzip
--- error_code: 200
--- response_body_like: "usage":\{"prompt_tokens":8,"total_tokens":8\}\}$



=== TEST 44: a deflate (zlib) body to KServe
--- request eval
use IO::Compress::Deflate qw(deflate);
my $in = '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hello"]}]}';
my $z; deflate(\$in => \$z);
"POST /v2/models/minilm/infer\n$z"
--- more_headers
Content-Encoding: deflate
--- error_code: 200
--- response_body_like: ^\{"model_name":"minilm","model_version":"1","outputs":\[\{"name":"embedding","datatype":"FP32","shape":\[1,384\]



=== TEST 45: a raw deflate body
--- request eval
use IO::Compress::RawDeflate qw(rawdeflate);
my $in = '{"model":"minilm","input":"hello"}';
my $z; rawdeflate(\$in => \$z);
"POST /v1/embeddings\n$z"
--- more_headers
Content-Encoding: deflate
--- error_code: 200
--- response_body_like: "usage":\{"prompt_tokens":3,"total_tokens":3\}\}$



=== TEST 46: a gzip body that is not gzip
--- request
POST /v1/embeddings
{"model":"minilm","input":"x"}
--- more_headers
Content-Encoding: gzip
--- response_body chomp
{"error":{"message":"the gzip body cannot be inflated: incorrect header check","type":"invalid_request_error","param":null,"code":null}}



=== TEST 47: a truncated gzip body
--- request eval
use IO::Compress::Gzip qw(gzip);
my $in = '{"model":"minilm","input":"' . ('hello ' x 50) . '"}';
my $z; gzip(\$in => \$z);
"POST /v1/embeddings\n" . substr($z, 0, length($z) - 12)
--- more_headers
Content-Encoding: gzip
--- response_body chomp
{"error":{"message":"the gzip body is truncated","type":"invalid_request_error","param":null,"code":null}}



=== TEST 48: a small gzip body that inflates past client_max_body_size
--- request eval
use IO::Compress::Gzip qw(gzip);
my $in = '{"model":"minilm","input":"' . ('a' x 100000) . '"}';
my $z; gzip(\$in => \$z);
"POST /v1/embeddings\n$z"
--- more_headers
Content-Encoding: gzip
--- error_code: 413
--- response_body chomp
{"error":{"message":"the inflated request body is larger than client_max_body_size 8192","type":"invalid_request_error","param":null,"code":null}}



=== TEST 49: an encoding the module does not inflate
--- request
POST /v1/embeddings
xxxx
--- more_headers
Content-Encoding: br
--- error_code: 415
--- response_body chomp
{"error":{"message":"Content-Encoding \"br\" is not supported, use gzip, deflate or none","type":"invalid_request_error","param":null,"code":null}}
