# nginx -t catches configuration mistakes with an [emerg] that names the
# file, the line and the problem: broken model directories, bad options,
# undeclared models.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');

run_tests();

__DATA__

=== TEST 1: a good model loads
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- no_error_log
[emerg]
[alert]



=== TEST 2: model directory that does not exist
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/missing_dir;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/missing_dir\S*: cannot open: No such file or directory \(a model is a directory of config\.json and model\.safetensors, or a GGUF file\) in \S+nginx\.conf:\d+}



=== TEST 3: config.json missing
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/no_config;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/no_config/config\.json: cannot open: No such file or directory in \S+nginx\.conf:\d+}



=== TEST 4: model.safetensors missing
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/no_safetensors;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/no_safetensors/model\.safetensors: cannot open: No such file or directory in \S+nginx\.conf:\d+}



=== TEST 5: config.json that is not JSON
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/config_not_json;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/config_not_json/config\.json: line 2, column 0: .* in \S+nginx\.conf:\d+}



=== TEST 6: unknown architecture
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/unknown_architecture;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*config\.json: unknown architecture "transformer9000" \(supported: mlp\) in \S+nginx\.conf:\d+}



=== TEST 7: unknown activation
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/bad_activation;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*config\.json: layers\[0\]\.activation "swish" is unknown}



=== TEST 8: no layers
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/empty_layers;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*config\.json: "layers" is missing or not a non-empty array}



=== TEST 9: config.json names a tensor the weights lack
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/missing_tensor;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*config\.json: layers\[1\]\.weight: tensor "fc2\.weight" is not in \S+/model\.safetensors in \S+nginx\.conf:\d+}



=== TEST 10: layers whose shapes do not chain
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/shape_mismatch;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*config\.json: layers\[1\]\.weight is \[3, 5\]: expected 6 inputs, the output of layers\[0\]}



=== TEST 11: first layer that does not take the input's size
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/input_size_mismatch;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*layers\[0\]\.weight is \[6, 8\]: expected 10 inputs, the size of input\.shape \[10\]}



=== TEST 12: bias of the wrong size
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/bias_shape_mismatch;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*layers\[0\]\.bias is \[7\]: expected \[6\]}



=== TEST 13: weight that is not a matrix
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/weight_not_2d;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*layers\[0\]\.weight is \[6, 2, 4\]: expected 2 dimensions}



=== TEST 14: a layer's weight in an integer dtype (read, then refused by mlp)
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/unsupported_dtype;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*unsupported_dtype/config\.json: layers\[0\]\.weight is I64: expected F32, F16 or BF16}



=== TEST 15: safetensors header size larger than the file
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/header_size_too_big;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model\.safetensors: header size 1099511627776 exceeds file size \d+}



=== TEST 16: safetensors header that is not JSON
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/header_not_json;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model\.safetensors: header is not valid JSON}



=== TEST 17: data section shorter than the tensors
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/truncated_data;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model\.safetensors: tensor "fc2\.bias": data_offsets \[288, 300\] end past the data section}



=== TEST 18: data_offsets that do not match the shape
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/offsets_size_mismatch;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*tensor "fc1\.bias": shape and dtype F32 need 24 bytes, data_offsets \[192, 212\] hold 20}



=== TEST 19: a file too short to be safetensors
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/broken/tiny_file;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model\.safetensors: file is 3 bytes, too short for a safetensors file}



=== TEST 20: infer naming an undeclared model
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
--- config
    location = /score { infer digitz; }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown model "digitz": declare it with "infer_model" in the http block first in \S+nginx\.conf:\d+}



=== TEST 21: the same model name twice
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    infer_model digits $TEST_NGINX_REPO/models/digits;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits" is already declared in \S+nginx\.conf:\d+ in \S+nginx\.conf:\d+}



=== TEST 22: max_batch out of range
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid value "max_batch=0" in \S+nginx\.conf:\d+}



=== TEST 23: max_batch not a number
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=lots;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid value "max_batch=lots"}



=== TEST 24: batch_timeout that is not a time
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits batch_timeout=soon;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid value "batch_timeout=soon"}



=== TEST 25: queue of zero
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits queue=0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid value "queue=0"}



=== TEST 26: instances of zero
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits instances=0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid value "instances=0"}



=== TEST 27: an unknown option
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits max_bacth=8;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": unknown option "max_bacth=8"}



=== TEST 28: a device that does not exist
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=tpu;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid device "tpu", use "cpu", "cuda:N" or "auto"}



=== TEST 29: infer_api with an unknown API
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
--- config
    location /v2/ { infer_api triton; }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown API "triton", the supported ones are "kserve" and "openai"}



=== TEST 30: infer_model outside http
--- http_config
--- config
    location = /t { infer_model digits /nonexistent; }
--- must_die
--- error_log eval
qr{\[emerg\] .*"infer_model" directive is not allowed here}



=== TEST 31: infer_timeout that is not a time
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    infer_timeout forever;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"infer_timeout" directive invalid value}



=== TEST 32: a model name nginx could not log safely
--- http_config
    infer_model "dig its" $TEST_NGINX_REPO/models/digits;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid model name "dig its"}



=== TEST 33: infer and infer_api in one location
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
--- config
    location /v2/ { infer_api kserve; infer digits; }
--- must_die
--- error_log eval
qr{\[emerg\] .*"infer" directive is duplicate}



=== TEST 34: a sentence encoder loads with its tokenizer and limits
--- http_config
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_seq=128 max_batch_tokens=4096 truncate=off;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- error_log eval
qr{\[notice\] .*executor 0 of model "minilm" started on cpu, max_batch 64, max_batch_tokens 4096}
--- no_error_log
[emerg]
[alert]



=== TEST 35: max_seq beyond the model's positions
--- http_config
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_seq=513;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "minilm": max_seq=513 is more than the 512 positions the model has \(max_position_embeddings\)}



=== TEST 36: max_batch_tokens below max_seq
--- http_config
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_batch_tokens=100;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "minilm": max_batch_tokens=100 is less than max_seq=256: the longest text would fit no batch}



=== TEST 37: max_seq with no room beside the special tokens
--- http_config
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                max_seq=2;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "minilm": max_seq=2 leaves no room for text beside the 2 special tokens}



=== TEST 38: text options on a model of FP32 rows
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits max_seq=64;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": max_seq=, max_batch_tokens= and truncate= are for text models; this one \(architecture "mlp"\) takes rows of FP32 features}



=== TEST 39: truncate takes on or off
--- http_config
    infer_model minilm $TEST_NGINX_REPO/build/models/all-MiniLM-L6-v2
                truncate=yes;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "minilm": invalid value "truncate=yes"}



=== TEST 40: a text model without its tokenizer.json
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/bert/broken/no_tokenizer;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/no_tokenizer/tokenizer\.json: cannot open: No such file or directory in \S+nginx\.conf:\d+}



=== TEST 41: a tokenizer.json that is not JSON
--- http_config
    infer_model m $TEST_NGINX_FIXTURES/bert/broken/tokenizer_not_json;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "m": \S+/broken/tokenizer_not_json/tokenizer\.json: line 2, column 0: string or '\}' expected near end of file}
