# Inference through real HTTP: KServe v2 request bodies in their several
# legal forms (flat or nested data, every numeric datatype, keys in any
# order, id, outputs), the answer checked against the numpy reference; and
# the same through "infer name" and "infer $variable" locations.

use Test::Nginx::Socket 'no_plan';
use InferCheck;
use JSON::PP;

ensure_fixtures();
no_shuffle();
log_level('info');
add_response_body_check(expected_json_check());

our $J = JSON::PP->new->canonical(1);

# a request of k rows for digits and its expected answer, from ref.py
sub digits_case {
    my ($k, %o) = @_;
    my ($req, $exp) = InferCheck::ref_kserve(
        "$ENV{TEST_NGINX_REPO}/models/digits", rows => $k,
        seed => $o{seed} // $k, dist => 'digits', name => 'digits',
        version => '1');
    return ($J->decode($req), $J->decode($exp));
}

sub nest {
    my ($data, $k) = @_;
    my $w = @$data / $k;
    return [map { [@$data[$_ * $w .. $_ * $w + $w - 1]] } 0 .. $k - 1];
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=16;
    infer_model image $TEST_NGINX_FIXTURES/image_1x8x8 max_batch=4;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /v2 { infer_api kserve; }
_EOC_
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n[error]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: one row
--- request eval
my ($req) = main::digits_case(1);
"POST /v2/models/digits/infer\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(1))[1]



=== TEST 2: sixteen rows, max_batch
--- request eval
my ($req) = main::digits_case(16);
"POST /v2/models/digits/infer\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(16))[1]



=== TEST 3: nested data, one array per row
--- request eval
my ($req) = main::digits_case(3);
$req->{inputs}[0]{data} = main::nest($req->{inputs}[0]{data}, 3);
"POST /v2/models/digits/infer\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(3))[1]



=== TEST 4: id is echoed, as it was sent
--- request eval
my ($req) = main::digits_case(1);
$req->{id} = "req-\x{e9}t\x{e9} \"7\"";
"POST /v2/models/digits/infer\n" . JSON::PP->new->ascii->canonical->encode($req)
--- response_body_like: ^\{"model_name":"digits","model_version":"1","id":"req-\\u00e9t\\u00e9 \\"7\\"","outputs":\[\{"name":"probabilities","datatype":"FP32","shape":\[1,10\],"data":\[



=== TEST 5: keys in another order, data before shape, pretty-printed
--- request eval
my ($req) = main::digits_case(2);
my $in = $req->{inputs}[0];
my $data = CORE::join(",\n      ", @{ $in->{data} });
"POST /v2/models/digits/infer\n"
. qq({\n  "outputs" : [ { "name" : "probabilities" } ],\n)
. qq(  "inputs" : [ {\n    "data" : [ $data ],\n    "datatype" : "FP32",\n)
. qq(    "shape" : [ 2, 64 ],\n    "name" : "input"\n  } ],\n  "id" : "pretty"\n}\n)
--- expected_json eval
my $exp = (main::digits_case(2))[1];
+{ %$exp, id => 'pretty' }



=== TEST 6: INT32 data is converted
--- request eval
my $d = [map { $_ % 17 } 0 .. 127];
"POST /v2/models/digits/infer\n" . $main::J->encode({ inputs => [{
    name => 'input', shape => [2, 64], datatype => 'INT32', data => $d }] })
--- expected_json eval
my $d = [map { $_ % 17 } 0 .. 127];
my $out = InferCheck::ref_predict("$ENV{TEST_NGINX_REPO}/models/digits",
                                  main::nest($d, 2));
{ model_name => 'digits', model_version => '1', outputs => [{
    name => 'probabilities', datatype => 'FP32', shape => [2, 10],
    data => [map { @$_ } @$out] }] }



=== TEST 7: UINT8 and FP64 and BOOL data are converted
--- request eval
my $d = [map { $_ % 2 } 0 .. 63];
my @r;
for my $dt (qw(UINT8 FP64)) {
    push @r, "POST /v2/models/digits/infer\n" . $main::J->encode({ inputs => [{
        name => 'input', shape => [1, 64], datatype => $dt, data => $d }] });
}
push @r, "POST /v2/models/digits/infer\n" . $main::J->encode({ inputs => [{
    name => 'input', shape => [1, 64], datatype => 'BOOL',
    data => [map { $_ ? JSON::PP::true : JSON::PP::false } @$d] }] });
\@r
--- expected_json eval
my $d = [map { $_ % 2 } 0 .. 63];
my $out = InferCheck::ref_predict("$ENV{TEST_NGINX_REPO}/models/digits", [$d]);
my $e = { model_name => 'digits', model_version => '1', outputs => [{
    name => 'probabilities', datatype => 'FP32', shape => [1, 10],
    data => $out->[0] }] };
[$e, $e, $e]



=== TEST 8: a multi-dimensional input, flat and nested
--- request eval
my ($req, $exp) = InferCheck::ref_kserve("$ENV{TEST_NGINX_FIXTURES}/image_1x8x8",
    rows => 2, seed => 9, name => 'image', version => '1');
my $r = $main::J->decode($req);
my $n = $main::J->decode($req);
my @rows = @{ main::nest($n->{inputs}[0]{data}, 16) };
$n->{inputs}[0]{data} = [map { [[@rows[8 * $_ .. 8 * $_ + 7]]] } 0 .. 1];
["POST /v2/models/image/infer\n$req",
 "POST /v2/models/image/infer\n" . $main::J->encode($n)]
--- expected_json eval
my (undef, $exp) = InferCheck::ref_kserve("$ENV{TEST_NGINX_FIXTURES}/image_1x8x8",
    rows => 2, seed => 9, name => 'image', version => '1');
[$main::J->decode($exp), $main::J->decode($exp)]



=== TEST 9: infer name: one model per location
--- config
    location = /score { infer digits; }
--- request eval
my ($req) = main::digits_case(2);
"POST /score\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(2))[1]



=== TEST 10: infer $variable: the model is chosen per request by map
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits max_batch=16;
    infer_model image $TEST_NGINX_FIXTURES/image_1x8x8 max_batch=4;
    map $http_x_variant $model {
        b        image;
        default  digits;
    }
--- config
    location = /score { infer $model; }
--- request eval
my ($req) = main::digits_case(1);
my ($ireq) = InferCheck::ref_kserve("$ENV{TEST_NGINX_FIXTURES}/image_1x8x8",
    rows => 1, seed => 4, name => 'image', version => '1');
["POST /score\n" . $main::J->encode($req), "POST /score\n$ireq"]
--- more_headers eval
["", "X-Variant: b"]
--- expected_json eval
my (undef, $iexp) = InferCheck::ref_kserve("$ENV{TEST_NGINX_FIXTURES}/image_1x8x8",
    rows => 1, seed => 4, name => 'image', version => '1');
[(main::digits_case(1))[1], $main::J->decode($iexp)]



=== TEST 11: infer $variable with split_clients
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    infer_model digits_b $TEST_NGINX_REPO/models/digits;
    split_clients "$http_x_user" $variant {
        50%  digits_b;
        *    digits;
    }
--- config
    location = /score { infer $variant; }
--- request eval
my ($req) = main::digits_case(1);
my $r = "POST /score\n" . $main::J->encode($req);
[$r, $r]
--- more_headers eval
["X-User: 1", "X-User: 3"]
--- expected_json eval
# the whole answer of each: the model split_clients chose (both load the
# same weights, so the outputs are the reference's either way); the
# numbers within the parity tolerance, everything else exactly
my $exp = (main::digits_case(1))[1];
[{ %$exp, model_name => 'digits_b' }, { %$exp, model_name => 'digits' }]



=== TEST 12: the outputs list may name the output
--- request eval
my ($req) = main::digits_case(1);
$req->{outputs} = [{ name => 'probabilities', parameters => {} }];
$req->{parameters} = { priority => 1 };
"POST /v2/models/digits/infer\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(1))[1]



=== TEST 13: a version path infers the same model
--- request eval
my ($req) = main::digits_case(1);
"POST /v2/models/digits/versions/1/infer\n" . $main::J->encode($req)
--- expected_json eval
(main::digits_case(1))[1]



=== TEST 14: the access log variables
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    log_format infer '$uri batch=$infer_batch_size q=$infer_queue_time '
                     'c=$infer_compute_time';
    access_log logs/access.log infer;
--- request eval
my ($req) = main::digits_case(5);
"POST /v2/models/digits/infer\n" . $main::J->encode($req)
--- access_log eval
qr{^/v2/models/digits/infer batch=5 q=\d+\.\d{3} c=\d+\.\d{3}$}
