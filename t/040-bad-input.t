# Every bad input gets the right status and a JSON error that says what was
# wrong, and nothing worse than that lands in the error log.

use Test::Nginx::Socket 'no_plan';
use InferCheck;

ensure_fixtures();
no_shuffle();
log_level('info');

our $D64 = join ',', map { ($_ % 16) / 16 } 0 .. 63;

sub body {
    my ($input, %top) = @_;
    my %in = (name => '"input"', shape => '[1,64]', datatype => '"FP32"',
              data => "[$D64]", %$input);
    my $in = join ',', map { defined $in{$_} ? qq("$_":$in{$_}) : () }
                       sort keys %in;
    my $top = join '', map { qq(,"$_":$top{$_}) } sort keys %top;
    return "POST /v2/models/digits/infer\n{\"inputs\":[{$in}]$top}";
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=4;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v2 { infer_api kserve; client_max_body_size 64k; }
_EOC_
    }

    if (!defined $block->error_code) {
        $block->set_value('error_code', 400);
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: malformed JSON: jansson's line and column
--- request eval
"POST /v2/models/digits/infer\n{\"inputs\":[{\"name\":\"input\",\n\"shape\":[1,64] \"datatype\":\"FP32\"}]}"
--- response_body chomp
{"error":"malformed JSON at line 2, column 25: '}' expected near '\"datatype\"'"}



=== TEST 2: truncated JSON
--- request eval
"POST /v2/models/digits/infer\n{\"inputs\":[{\"name\":\"input\",\"shape\":[1,64],\"data\":[1,2"
--- response_body chomp
{"error":"malformed JSON at line 1, column 53: ']' expected near end of file"}



=== TEST 3: not an object
--- request
POST /v2/models/digits/infer
[1,2,3]
--- response_body chomp
{"error":"the request body must be a JSON object"}



=== TEST 4: empty body
--- request
POST /v2/models/digits/infer
--- response_body chomp
{"error":"empty request body, expected a KServe v2 inference request"}



=== TEST 5: no inputs
--- request
POST /v2/models/digits/infer
{"id":"x"}
--- response_body chomp
{"error":"missing \"inputs\""}



=== TEST 6: inputs empty
--- request
POST /v2/models/digits/infer
{"inputs":[]}
--- response_body chomp
{"error":"inputs: expected a non-empty array of objects"}



=== TEST 7: input without a name
--- request eval
main::body({ name => undef })
--- response_body chomp
{"error":"inputs[0]: missing \"name\""}



=== TEST 8: wrong input name
--- request eval
main::body({ name => '"pixels"' })
--- response_body chomp
{"error":"inputs[0].name: model has no input \"pixels\" (expected \"input\")"}



=== TEST 9: missing shape
--- request eval
main::body({ shape => undef })
--- response_body chomp
{"error":"inputs[0]: missing \"shape\""}



=== TEST 10: shape that is not an array of integers
--- request eval
main::body({ shape => '[1,-64]' })
--- response_body chomp
{"error":"inputs[0].shape: expected an array of non-negative integers"}



=== TEST 11: missing datatype
--- request eval
main::body({ datatype => undef })
--- response_body chomp
{"error":"inputs[0]: missing \"datatype\""}



=== TEST 12: unknown datatype
--- request eval
main::body({ datatype => '"FLOAT"' })
--- response_body chomp
{"error":"inputs[0].datatype: unknown datatype \"FLOAT\""}



=== TEST 13: FP16 as JSON numbers
--- request eval
main::body({ datatype => '"FP16"' })
--- response_body chomp
{"error":"inputs[0].datatype: FP16 cannot be sent as JSON numbers (use the binary tensor extension)"}



=== TEST 14: BYTES for a numeric model
--- request eval
main::body({ datatype => '"BYTES"', data => '["a"]' })
--- response_body chomp
{"error":"inputs[0].datatype: BYTES is not supported here, the model takes numbers"}



=== TEST 15: missing data
--- request eval
main::body({ data => undef })
--- response_body chomp
{"error":"inputs[0]: missing \"data\""}



=== TEST 16: fewer values than the shape holds
--- request eval
main::body({ data => '[1,2,3]' })
--- response_body chomp
{"error":"inputs[0]: shape [1, 64] holds 64 values, data has 3"}



=== TEST 17: more values than the shape holds
--- request eval
main::body({ data => "[$main::D64,1]" })
--- response_body chomp
{"error":"inputs[0]: shape [1, 64] holds 64 values, data has 65"}



=== TEST 18: a shape the model does not take
--- request eval
main::body({ shape => '[2,32]' })
--- response_body chomp
{"error":"inputs[0].shape [2, 32] does not match model \"digits\", which takes [-1, 64] (-1: any number of rows)"}



=== TEST 19: a shape with one dimension too many
--- request eval
main::body({ shape => '[1,1,64]' })
--- response_body chomp
{"error":"inputs[0].shape [1, 1, 64] does not match model \"digits\", which takes [-1, 64] (-1: any number of rows)"}



=== TEST 20: zero rows
--- request eval
main::body({ shape => '[0,64]', data => '[]' })
--- response_body chomp
{"error":"inputs[0].shape: a batch of 0 rows has nothing to infer"}



=== TEST 21: more rows than max_batch
--- request eval
main::body({ shape => '[5,64]', data => CORE::join(',', ("[$main::D64]") x 5) =~ s/^/[/r =~ s/$/]/r })
--- response_body chomp
{"error":"inputs[0].shape: 5 rows exceed max_batch 4 of model \"digits\""}



=== TEST 22: a string among the numbers
--- request eval
main::body({ data => '[1,"2",3]' })
--- response_body chomp
{"error":"inputs[0].data[1]: expected a number"}



=== TEST 23: NaN
--- request eval
main::body({ data => '[1,NaN,3]' })
--- response_body chomp
{"error":"inputs[0].data[1]: NaN and Infinity are not valid JSON numbers"}



=== TEST 24: -Infinity
--- request eval
main::body({ data => '[-Infinity]' })
--- response_body chomp
{"error":"inputs[0].data[0]: NaN and Infinity are not valid JSON numbers"}



=== TEST 25: a number beyond FP32
--- request eval
main::body({ data => '[1e39]' })
--- response_body chomp
{"error":"inputs[0].data[0]: 1e39 is out of range for FP32"}



=== TEST 26: a fraction for an integer type
--- request eval
main::body({ datatype => '"INT8"', data => '[1.5]' })
--- response_body chomp
{"error":"inputs[0].data[0]: 1.5 is not an integer (INT8)"}



=== TEST 27: out of range for UINT8
--- request eval
main::body({ datatype => '"UINT8"', data => '[256]' })
--- response_body chomp
{"error":"inputs[0].data[0]: 256 is out of range for UINT8"}



=== TEST 28: the same input twice
--- request eval
my $b = main::body({});
$b =~ s/\]\}$//;
$b =~ /(\{"data".*\})$/;
"$b,$1]}"
--- response_body chomp
{"error":"inputs[1].name: input \"input\" appears twice"}



=== TEST 29: an output the model does not have
--- request eval
main::body({}, outputs => '[{"name":"logits"}]')
--- response_body chomp
{"error":"outputs[0].name: model \"digits\" has no output \"logits\" (it has \"probabilities\")"}



=== TEST 30: a body over client_max_body_size: nginx's own 413, in JSON
--- request eval
main::body({}, pad => '"' . ('x' x 70000) . '"')
--- error_code: 413
--- response_body chomp
{"error":"request body is larger than client_max_body_size 65536"}



=== TEST 31: a chunked body over client_max_body_size
--- raw_request eval
my $b = substr(main::body({}, pad => '"' . ('x' x 70000) . '"'), 29);
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Transfer-Encoding: chunked\r\n\r\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($b), $b)
--- error_code: 413
--- response_body chomp
{"error":"request body is larger than client_max_body_size 65536"}



=== TEST 32: a truncated body: the client sends less than Content-Length
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 500\r\n\r\n{\"inputs\":"
--- shutdown
--- ignore_response
--- error_log
client prematurely closed connection



=== TEST 33: wrong method
--- request
PUT /v2/models/digits/infer
{}
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"error":"method PUT is not allowed here, use POST"}



=== TEST 34: unknown model
--- request
POST /v2/models/digits2/infer
{}
--- error_code: 404
--- response_body chomp
{"error":"unknown model \"digits2\""}



=== TEST 35: binary tensor data is not on this path
--- request eval
main::body({ parameters => '{"binary_data_size":256}' })
--- response_body chomp
{"error":"inputs[0].parameters.binary_data_size: binary tensor data is not supported on this path"}



=== TEST 36: an id that is not a string
--- request eval
main::body({}, id => '42')
--- response_body chomp
{"error":"id: expected a string"}



=== TEST 37: a raw control character in a string
--- request eval
main::body({}, id => qq("a\tb"))
--- response_body eval
# jansson's own words; the column is fixed too: the body before the tab
# (the 64 values of $D64, then ',"id":"a') is the same on every run
qq({"error":"malformed JSON at line 1, column 462: control character 0x9 near '\\"a'"})



=== TEST 38: a good request still works after all that
--- request eval
main::body({})
--- error_code: 200
--- response_body_like chomp
^\{"model_name":"digits","model_version":"1","outputs":\[\{"name":"probabilities","datatype":"FP32","shape":\[1,10\],"data":\[
