# Triton's extensions of the KServe v2 API, body for body: the model
# configuration (GET /v2/models/{name}/config), the statistics
# (GET /v2/models[/{name}]/stats, before and after requests, successes
# and failures counted apart, per batch size), the model repository's
# index (POST /v2/repository/index) with its errors, load and unload
# refused; unknown models, versions and methods.  Triton's client and
# perf_analyzer on them are t/176-triton-tools.t.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');

our $Row = join ',', map { ($_ % 16) / 16 } 0 .. 63;

# a KServe request of rows rows of digits' 64 values (63: a bad one)
sub infer {
    my ($rows, $n) = @_;
    my $data = join ',', ($Row) x $rows;
    $data = join ',', (0.5) x $n if $n;
    my $shape = $n ? "[1,$n]" : "[$rows,64]";
    return "POST /v2/models/digits/infer\n{\"inputs\":[{\"name\":\"input\","
           . "\"shape\":$shape,\"datatype\":\"FP32\",\"data\":[$data]}]}";
}

# a $duration_stat: count exact; ns 0, positive (+) or any (*)
sub dur {
    my ($count, $ns) = @_;
    my $v = $ns eq '+' ? '[1-9]\d*' : $ns eq '*' ? '\d+' : $ns;
    return qq(\\{"count":$count,"ns":$v\\});
}

# a model's statistics: the numbers given, ns as dur() takes them
sub stats {
    my (%s) = @_;
    my $is = join ',', map { qq("$_":) . dur(@{ $s{$_} // [0, 0] }) }
        qw(success fail queue compute_input compute_infer compute_output
           cache_hit cache_miss);
    my $bs = join ',', map {
        my ($size, $n) = @$_;
        qq(\\{"batch_size":$size,"compute_input":) . dur($n, '*')
        . qq(,"compute_infer":) . dur($n, '+')
        . qq(,"compute_output":) . dur($n, '*') . '\}'
    } @{ $s{batches} // [] };
    return qq(\\{"name":"$s{name}","version":"1","last_inference":)
           . ($s{last} ? '1\d{12}' : 0)
           . qq(,"inference_count":$s{inferences},"execution_count":)
           . qq($s{executions},"inference_stats":\\{$is\\},)
           . qq("batch_stats":\\[$bs\\]\\});
}

sub zeros { stats(name => $_[0], inferences => 0, executions => 0) }

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=32
                batch_timeout=5ms instances=3;
    infer_model image $TEST_NGINX_FIXTURES/image_1x8x8 max_batch=8
                instances=1;
    infer_model text $TEST_NGINX_FIXTURES/bert/r_f16_mean_norm max_batch=4;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v2 { infer_api kserve; }
_EOC_
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: model configuration: Triton's names, dims without the batch dimension
--- request
GET /v2/models/digits/config
--- response_headers
Content-Type: application/json
--- response_body chomp
{"name":"digits","platform":"ngx_infer_mlp","backend":"ngx_infer","version_policy":{"latest":{"num_versions":1}},"max_batch_size":32,"input":[{"name":"input","data_type":"TYPE_FP32","dims":[64]}],"output":[{"name":"probabilities","data_type":"TYPE_FP32","dims":[10]}],"dynamic_batching":{"preferred_batch_size":[],"max_queue_delay_microseconds":5000},"instance_group":[{"name":"digits","kind":"KIND_CPU","count":3,"gpus":[]}],"parameters":{"device":{"string_value":"cpu"},"precision":{"string_value":"fp32"}}}



=== TEST 2: model configuration through a version
--- request
GET /v2/models/digits/versions/1/config
--- response_body chomp
{"name":"digits","platform":"ngx_infer_mlp","backend":"ngx_infer","version_policy":{"latest":{"num_versions":1}},"max_batch_size":32,"input":[{"name":"input","data_type":"TYPE_FP32","dims":[64]}],"output":[{"name":"probabilities","data_type":"TYPE_FP32","dims":[10]}],"dynamic_batching":{"preferred_batch_size":[],"max_queue_delay_microseconds":5000},"instance_group":[{"name":"digits","kind":"KIND_CPU","count":3,"gpus":[]}],"parameters":{"device":{"string_value":"cpu"},"precision":{"string_value":"fp32"}}}



=== TEST 3: model configuration of a multi-dimensional input, batch_timeout's default
--- request
GET /v2/models/image/config
--- response_body chomp
{"name":"image","platform":"ngx_infer_mlp","backend":"ngx_infer","version_policy":{"latest":{"num_versions":1}},"max_batch_size":8,"input":[{"name":"input","data_type":"TYPE_FP32","dims":[1,8,8]}],"output":[{"name":"output","data_type":"TYPE_FP32","dims":[10]}],"dynamic_batching":{"preferred_batch_size":[],"max_queue_delay_microseconds":2000},"instance_group":[{"name":"image","kind":"KIND_CPU","count":1,"gpus":[]}],"parameters":{"device":{"string_value":"cpu"},"precision":{"string_value":"fp32"}}}



=== TEST 4: model configuration of a text model: TYPE_STRING, a batch of scalars
--- request
GET /v2/models/text/config
--- response_body chomp
{"name":"text","platform":"ngx_infer_bert","backend":"ngx_infer","version_policy":{"latest":{"num_versions":1}},"max_batch_size":4,"input":[{"name":"text","data_type":"TYPE_STRING","dims":[1],"reshape":{"shape":[]}}],"output":[{"name":"embedding","data_type":"TYPE_FP32","dims":[36]}],"dynamic_batching":{"preferred_batch_size":[],"max_queue_delay_microseconds":2000},"instance_group":[{"name":"text","kind":"KIND_CPU","count":1,"gpus":[]}],"parameters":{"device":{"string_value":"cpu"},"precision":{"string_value":"fp32"}}}



=== TEST 5: HEAD of the model configuration: headers only
--- request
HEAD /v2/models/digits/config
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 6: model configuration of an unknown model
--- request
GET /v2/models/nope/config
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"nope\""}



=== TEST 7: model configuration of an unknown version
--- request
GET /v2/models/digits/versions/2/config
--- error_code: 404
--- response_body chomp
{"error":"model \"digits\" has no version \"2\""}



=== TEST 8: POST of the model configuration
--- request
POST /v2/models/digits/config
{}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method POST is not allowed here, use GET, HEAD"}



=== TEST 9: statistics before any request: zeros, no batch sizes
--- request
GET /v2/models/digits/stats
--- response_body eval
qr/^\{"model_stats":\[${\ main::zeros('digits')}\]\}$/



=== TEST 10: statistics after 3 answers (1, 2 and 1 rows, one batch each) and 1 error
--- request eval
[main::infer(1), main::infer(2), main::infer(1), main::infer(1, 63),
 "GET /v2/models/digits/stats"]
--- error_code eval
[200, 200, 200, 400, 200]
--- response_body_like eval
[qr/^\{"model_name":"digits"/, qr/^\{"model_name":"digits"/,
 qr/^\{"model_name":"digits"/,
 qr/^\{"error":"inputs\[0\]\.shape \[1, 63\] does not match model/,
 qr/^\{"model_stats":\[${\ main::stats(name => 'digits', last => 1,
     inferences => 4, executions => 3, success => [3, '+'],
     fail => [1, '+'], queue => [3, '*'], compute_input => [3, '*'],
     compute_infer => [3, '+'], compute_output => [3, '*'],
     batches => [[1, 2], [2, 1]])}\]\}$/]



=== TEST 11: statistics of a text model: texts are its rows
--- request eval
["POST /v2/models/text/infer\n"
 . '{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES",'
 . '"data":["nginx serves models","and counts them"]}]}',
 "GET /v2/models/text/stats"]
--- response_body_like eval
[qr/^\{"model_name":"text"/,
 qr/^\{"model_stats":\[${\ main::stats(name => 'text', last => 1,
     inferences => 2, executions => 1, success => [1, '+'],
     queue => [1, '*'], compute_input => [1, '*'],
     compute_infer => [1, '+'], compute_output => [1, '*'],
     batches => [[2, 1]])}\]\}$/]



=== TEST 12: statistics of every model, in their order
--- request
GET /v2/models/stats
--- response_body eval
qr/^\{"model_stats":\[${\ main::zeros('digits')},${\ main::zeros('image')},${\ main::zeros('text')}\]\}$/



=== TEST 13: every model's statistics after a request to one
--- request eval
[main::infer(3), "GET /v2/models/stats"]
--- response_body_like eval
[qr/^\{"model_name":"digits"/,
 qr/^\{"model_stats":\[${\ main::stats(name => 'digits', last => 1,
     inferences => 3, executions => 1, success => [1, '+'],
     queue => [1, '*'], compute_input => [1, '*'],
     compute_infer => [1, '+'], compute_output => [1, '*'],
     batches => [[3, 1]])},${\ main::zeros('image')},${\ main::zeros('text')}\]\}$/]



=== TEST 14: statistics through a version
--- request
GET /v2/models/image/versions/1/stats
--- response_body eval
qr/^\{"model_stats":\[${\ main::zeros('image')}\]\}$/



=== TEST 15: statistics of an unknown model
--- request
GET /v2/models/nope/stats
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"nope\""}



=== TEST 16: DELETE of the statistics
--- request
DELETE /v2/models/stats
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method DELETE is not allowed here, use GET, HEAD"}



=== TEST 17: the repository index, as tritonclient asks for it (an empty body)
--- request
POST /v2/repository/index
--- response_headers
Content-Type: application/json
--- response_body chomp
[{"name":"digits","version":"1","state":"READY"},{"name":"image","version":"1","state":"READY"},{"name":"text","version":"1","state":"READY"}]



=== TEST 18: the repository index: {}, "ready" false and true (every model is ready), unknown keys
--- request eval
["POST /v2/repository/index\n{}",
 "POST /v2/repository/index\n{\"ready\": false}",
 "POST /v2/repository/index\n {\"ready\": true} ",
 "POST /v2/repository/index\n{\"repository_name\": \"x\", \"ready\": true}"]
--- response_body eval
[('[{"name":"digits","version":"1","state":"READY"},{"name":"image","version":"1","state":"READY"},{"name":"text","version":"1","state":"READY"}]') x 4]



=== TEST 19: the repository index: "ready" is not a boolean
--- request
POST /v2/repository/index
{"ready": 1}
--- error_code: 400
--- response_body chomp
{"error":"a model repository index request: ready: expected true or false"}



=== TEST 20: the repository index: not an object
--- request
POST /v2/repository/index
[true]
--- error_code: 400
--- response_body chomp
{"error":"a model repository index request: the request body must be a JSON object"}



=== TEST 21: the repository index: "ready" twice
--- request
POST /v2/repository/index
{"ready": true, "ready": false}
--- error_code: 400
--- response_body chomp
{"error":"a model repository index request: duplicate key \"ready\""}



=== TEST 22: the repository index: malformed JSON
--- request
POST /v2/repository/index
{"ready": tru}
--- error_code: 400
--- response_body chomp
{"error":"a model repository index request: malformed JSON at line 1, column 13: invalid token near 'tru'"}



=== TEST 23: the repository index: something after the object
--- request
POST /v2/repository/index
{"ready": true} x
--- error_code: 400
--- response_body chomp
{"error":"a model repository index request: malformed JSON at line 1, column 17: end of file expected near 'x'"}



=== TEST 24: GET of the repository index
--- request
GET /v2/repository/index
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":"method GET is not allowed here, use POST"}



=== TEST 25: load and unload are refused: nginx.conf declares the models
--- request eval
["POST /v2/repository/models/digits/load\n{}",
 "POST /v2/repository/models/image/unload"]
--- error_code eval
[400, 400]
--- response_body eval
['{"error":"model \"digits\" is declared by infer_model in nginx.conf: a reload of nginx loads and unloads models"}',
 '{"error":"model \"image\" is declared by infer_model in nginx.conf: a reload of nginx loads and unloads models"}']



=== TEST 26: load of an unknown model
--- request
POST /v2/repository/models/nope/load
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"nope\""}



=== TEST 27: GET of load
--- request
GET /v2/repository/models/digits/load
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":"method GET is not allowed here, use POST"}



=== TEST 28: unknown repository endpoints
--- request eval
["POST /v2/repository/models/digits/reload",
 "POST /v2/repository/models/digits",
 "POST /v2/repository/"]
--- error_code eval
[404, 404, 404]
--- response_body eval
['{"error":"no KServe v2 endpoint at \"/v2/repository/models/digits/reload\""}',
 '{"error":"no KServe v2 endpoint at \"/v2/repository/models/digits\""}',
 '{"error":"no KServe v2 endpoint at \"/v2/repository/\""}']



=== TEST 29: the extensions under another prefix
--- config
    location /ml/ { infer_api kserve; }
--- request eval
["GET /ml/v2/models/image/config", "POST /ml/v2/repository/index"]
--- response_body_like eval
[qr/^\{"name":"image","platform":"ngx_infer_mlp",/,
 qr/^\[\{"name":"digits","version":"1","state":"READY"\},/]
