# The KServe v2 HTTP API around inference: health, server and model
# metadata, readiness, versions, and the answers for unknown models,
# unknown endpoints and wrong methods.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=32;
    infer_model image $TEST_NGINX_FIXTURES/image_1x8x8 max_batch=8;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v2 { infer_api kserve; }
    location /ml/ { infer_api kserve; }
_EOC_
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: liveness
--- request
GET /v2/health/live
--- response_headers
Content-Type: application/json
--- response_body chomp
{"live":true}



=== TEST 2: readiness: every model has its executor
--- request
GET /v2/health/ready
--- response_body chomp
{"ready":true}



=== TEST 3: server metadata
--- request
GET /v2
--- response_body chomp
{"name":"ngx_infer","version":"0.1.0","extensions":["binary_tensor_data","model_configuration","statistics","model_repository"]}



=== TEST 4: server metadata with a trailing slash
--- request
GET /v2/
--- response_body chomp
{"name":"ngx_infer","version":"0.1.0","extensions":["binary_tensor_data","model_configuration","statistics","model_repository"]}



=== TEST 5: model metadata: -1 for the batch dimension
--- request
GET /v2/models/digits
--- response_body chomp
{"name":"digits","versions":["1"],"platform":"ngx_infer_mlp","inputs":[{"name":"input","datatype":"FP32","shape":[-1,64]}],"outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,10]}],"parameters":{"device":"cpu","precision":"fp32","max_batch":32}}



=== TEST 6: model metadata of a multi-dimensional input
--- request
GET /v2/models/image
--- response_body chomp
{"name":"image","versions":["1"],"platform":"ngx_infer_mlp","inputs":[{"name":"input","datatype":"FP32","shape":[-1,1,8,8]}],"outputs":[{"name":"output","datatype":"FP32","shape":[-1,10]}],"parameters":{"device":"cpu","precision":"fp32","max_batch":8}}



=== TEST 7: model metadata through a version
--- request
GET /v2/models/digits/versions/1
--- response_body chomp
{"name":"digits","versions":["1"],"platform":"ngx_infer_mlp","inputs":[{"name":"input","datatype":"FP32","shape":[-1,64]}],"outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,10]}],"parameters":{"device":"cpu","precision":"fp32","max_batch":32}}



=== TEST 8: model readiness
--- request
GET /v2/models/digits/ready
--- response_body chomp
{"name":"digits","ready":true}



=== TEST 9: model readiness through a version
--- request
GET /v2/models/image/versions/1/ready
--- response_body chomp
{"name":"image","ready":true}



=== TEST 10: HEAD of model metadata: headers only
--- request
HEAD /v2/models/digits
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 11: the API under another prefix
--- request
GET /ml/v2/models/digits/ready
--- response_body chomp
{"name":"digits","ready":true}



=== TEST 12: unknown model
--- request
GET /v2/models/nope
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"nope\""}



=== TEST 13: unknown model, infer
--- request
POST /v2/models/nope/infer
{}
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"nope\""}



=== TEST 14: unknown version
--- request
GET /v2/models/digits/versions/2/ready
--- error_code: 404
--- response_body chomp
{"error":"model \"digits\" has no version \"2\""}



=== TEST 15: unknown endpoint under a model
--- request
GET /v2/models/digits/explain
--- error_code: 404
--- response_body chomp
{"error":"no KServe v2 endpoint at \"/v2/models/digits/explain\""}



=== TEST 16: unknown endpoint (Triton's shared memory extension, not served)
--- request
GET /v2/systemsharedmemory/status
--- error_code: 404
--- response_body chomp
{"error":"no KServe v2 endpoint at \"/v2/systemsharedmemory/status\""}



=== TEST 17: a path that is not the API
--- request
GET /ml/v3/models
--- error_code: 404
--- response_body chomp
{"error":"no KServe v2 endpoint at \"/ml/v3/models\""}



=== TEST 18: GET of infer
--- request
GET /v2/models/digits/infer
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body chomp
{"error":"method GET is not allowed here, use POST"}



=== TEST 19: POST of metadata
--- request
POST /v2/models/digits
{}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method POST is not allowed here, use GET, HEAD"}



=== TEST 20: DELETE of health
--- request
DELETE /v2/health/ready
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method DELETE is not allowed here, use GET, HEAD"}



=== TEST 21: infer location: GET is refused
--- config
    location = /score { infer digits; }
--- request
GET /score
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":"method GET is not allowed here, use POST"}



=== TEST 22: infer location with a variable naming no model
--- config
    location = /score { infer $arg_model; }
--- request
POST /score?model=digitz
{}
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"digitz\""}



=== TEST 23: infer location with an empty variable
--- config
    location = /score { infer $arg_model; }
--- request
POST /score
{}
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"\""}
