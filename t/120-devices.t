# device= and precision= on infer_model where there is no GPU (CI and the
# development machines): device=cuda:0 stops nginx with an [emerg] that
# quotes the CUDA error, device=auto falls back to the CPU with one [warn],
# and the CPU refuses the GPU-only precisions.  On a machine with a GPU
# these blocks are skipped; t/gpu/run.sh covers it.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');
add_response_body_check(expected_json_check());

our $HaveGPU = -e '/dev/nvidia0' ? 1 : 0;

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('skip_eval', '1: $main::HaveGPU')
        unless defined $block->skip_eval;
});

run_tests();

__DATA__

=== TEST 1: device=cuda:0 without a GPU: nginx does not start, CUDA says why
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=cuda:0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": device cuda:0 cannot be used: cuda\w+\(\): [^()]+ \(cuda\w+\) in \S+nginx\.conf:\d+}



=== TEST 2: device=auto without a GPU: the CPU, with one [warn]
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=auto;
--- config
    location /v2 { infer_api kserve; }
--- request
GET /v2/models/digits
--- response_body chomp
{"name":"digits","versions":["1"],"platform":"ngx_infer_mlp","inputs":[{"name":"input","datatype":"FP32","shape":[-1,64]}],"outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,10]}],"parameters":{"device":"cpu","precision":"fp32","max_batch":64}}
--- error_log eval
# under valgrind the probe's child (libcudart in memcheck) may not answer
# within its 30 s: the same fallback, another reason
$InferTest::UseValgrind
    ? qr{\[warn\] .*model "digits": no usable GPU for device=auto \((?:cuda\w+\(\): .*|cuda probe of device 0 in \S+: no answer after 30 s, killed)\), the model runs on the CPU}
    : qr{\[warn\] .*model "digits": no usable GPU for device=auto \(cuda\w+\(\): .*\), the model runs on the CPU}
--- no_error_log
[emerg]
[alert]



=== TEST 3: device=auto without a GPU still answers
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=auto;
--- config
    location /v2 { infer_api kserve; }
--- request eval
my ($req) = InferCheck::ref_kserve("$ENV{TEST_NGINX_REPO}/models/digits",
    rows => 2, seed => 5, name => 'digits', dist => 'digits');
"POST /v2/models/digits/infer\n$req"
--- expected_json eval
# the whole answer: names, version and shape exactly, the probabilities
# within the tolerance of the parity tests (t/050), as on device=cpu
(InferCheck::ref_kserve("$ENV{TEST_NGINX_REPO}/models/digits", rows => 2,
    seed => 5, name => 'digits', dist => 'digits', version => '1'))[1]
--- error_log eval
qr{executor 0 of model "digits" started on cpu}



=== TEST 4: fp16 on the CPU
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits precision=fp16;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": precision=fp16 needs a GPU \(device=cuda:N or auto\), the CPU computes in fp32 or q8}



=== TEST 5: an unknown precision
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=auto precision=fp8;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid precision "fp8", use fp32, tf32, fp16, bf16 or q8}
--- skip_eval: 1: 0



=== TEST 6: a device number that is not one
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits device=cuda:x;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*model "digits": invalid device "cuda:x"}
--- skip_eval: 1: 0
