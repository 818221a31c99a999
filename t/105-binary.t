# KServe's binary tensor data extension, as Triton implements it: a JSON
# header of Inference-Header-Content-Length bytes, then the raw tensors;
# binary_data_output for raw outputs after a JSON header.  Parity with
# numpy in each form, and the malformed headers and lengths.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();

ok(start_nginx(workers => 1, master => 1, log_level => 'info',
               http_config => "    infer_model digits $repo/models/digits "
                              . "max_batch=8;\n",
               config => "    location /v2 { infer_api kserve; }\n"),
   'nginx starts') or BAIL_OUT($InferTest::LastError);

my (undef, undef, $doc) = ref_kserve("$repo/models/digits", rows => 3,
                                     seed => 31, dist => 'digits',
                                     name => 'digits', version => '1');
my @x = @{ $doc->{request}{inputs}[0]{data} };
my $expect = $doc->{response};

sub binary_request {
    my ($dt, $raw, %o) = @_;
    my $json = encode_json({
        id => 'b1',
        inputs => [{ name => 'input', shape => [3, 64], datatype => $dt,
                     parameters => { binary_data_size => length $raw } }],
        ($o{outputs} ? (outputs => $o{outputs}) : ()),
        ($o{parameters} ? (parameters => $o{parameters}) : ()) });
    return ($json . $raw,
            { 'Inference-Header-Content-Length' => length $json,
              'Content-Type' => 'application/octet-stream' });
}

sub post { http_request('POST', '/v2/models/digits/infer', @_) }

# FP32 binary in, JSON out
{
    my ($st, $h, $b) = post(binary_request('FP32', pack('f<*', @x)));
    is($st, 200, 'FP32 binary input: 200');
    my $got = decode_json($b);
    is(json_cmp($got, { %$expect, id => 'b1' }), undef,
       'FP32 binary input: the JSON answer equals the reference');
}

# FP64 and INT32 binary inputs are converted
{
    my ($st, undef, $b) = post(binary_request('FP64', pack('d<*', @x)));
    is($st, 200, 'FP64 binary input: 200');
    is(json_cmp(decode_json($b), { %$expect, id => 'b1' }), undef,
       'FP64 binary input: equals the reference');

    my @ints = map { $_ % 17 } 0 .. 191;
    my $ref = ref_predict("$repo/models/digits",
                          [map { [@ints[64 * $_ .. 64 * $_ + 63]] } 0 .. 2]);
    ($st, undef, $b) = post(binary_request('INT32', pack('l<*', @ints)));
    is($st, 200, 'INT32 binary input: 200');
    is(json_cmp(decode_json($b)->{outputs}[0]{data}, [map { @$_ } @$ref]),
       undef, 'INT32 binary input: equals the reference');
}

# binary output, asked for two ways
for my $ask ([parameters => { binary_data_output => JSON::PP::true }],
             [outputs => [{ name => 'probabilities',
                            parameters => { binary_data => JSON::PP::true } }]])
{
    my ($st, $h, $b) = post(binary_request('FP32', pack('f<*', @x), @$ask));
    is($st, 200, "binary output via $ask->[0]: 200");
    my $hl = $h->{'inference-header-content-length'};
    ok($hl, "binary output: Inference-Header-Content-Length $hl");
    my $head = decode_json(substr($b, 0, $hl));
    is_deeply($head->{outputs}[0]{parameters}, { binary_data_size => 120 },
              'binary output: the header gives the size, 3 x 10 x 4');
    is($head->{id}, 'b1', 'binary output: the id is echoed');
    is(length($b) - $hl, 120, 'binary output: 120 bytes follow');
    is(json_cmp([unpack('f<*', substr($b, $hl))],
                $expect->{outputs}[0]{data}), undef,
       'binary output: equal to the reference');
}

# a JSON request may ask for a binary answer too
{
    my $req = encode_json({ inputs => $doc->{request}{inputs},
                            parameters => { binary_data_output =>
                                            JSON::PP::true } });
    my ($st, $h, $b) = post($req);
    my $hl = $h->{'inference-header-content-length'} // 0;
    is($st, 200, 'JSON in, binary out: 200');
    is(json_cmp([unpack('f<*', substr($b, $hl))],
                $expect->{outputs}[0]{data}), undef,
       'JSON in, binary out: equal to the reference');
}

# the server says it has the extension
{
    my ($st, undef, $b) = http_request('GET', '/v2');
    ok((grep { $_ eq 'binary_tensor_data' }
            @{ decode_json($b)->{extensions} }),
       'server metadata lists binary_tensor_data');
}

# errors
my $raw = pack('f<*', @x);
my ($good, $gh) = binary_request('FP32', $raw);
my $jl = $gh->{'Inference-Header-Content-Length'};

my @bad = (
    [$good, { %$gh, 'Inference-Header-Content-Length' => 'abc' },
     'Inference-Header-Content-Length "abc" is not a number of bytes'],
    [$good, { %$gh, 'Inference-Header-Content-Length' => length($good) + 10 },
     'Inference-Header-Content-Length ' . (length($good) + 10)
     . ' is larger than the body (' . length($good) . ' bytes)'],
    [substr($good, 0, -4), $gh,
     'the binary data after the JSON is 764 bytes, the inputs\' '
     . 'binary_data_size add up to 768'],
    [(binary_request('FP32', $raw . pack('f<', 1)))[0], $gh, undef],
    [(binary_request('FP32', pack('f<*', @x[0 .. 190], 9**9**9)))[0],
     { %$gh }, 'inputs[0]: binary data holds NaN or Infinity at [191]'],
);

for my $i (0 .. $#bad) {
    my ($body, $h, $msg) = @{ $bad[$i] };
    if ($i == 3) {
        # binary_data_size of 772 for a [3, 64] FP32 tensor
        my ($b2, $h2) = binary_request('FP32', $raw . pack('f<', 1));
        my ($st, undef, $b) = post($b2, $h2);
        is($st, 400, 'binary_data_size that does not fit the shape: 400');
        like($b, qr/^\{"error":"inputs\[0\]\.parameters\.binary_data_size: 772 bytes/,
             'binary_data_size that does not fit the shape: says so');
        next;
    }
    my ($st, undef, $b) = post($body, $h);
    is($st, 400, "bad binary body $i: 400");
    is($b, encode_json({ error => $msg }), "bad binary body $i: $msg");
}

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
