# The test harness itself, against plain nginx (no ngx_infer module):
# Test::Nginx::Socket (t/lib), InferTest (processes, HTTP client,
# parallel clients, reload), InferCheck (numeric JSON comparison, the
# model fixtures and the numpy reference).
#
#   prove -I t/lib t/harness-selftest.t

use Test::Nginx::Socket 'no_plan';
use InferTest;
use InferCheck;

repeat_each(2);
no_shuffle();
log_level('info');
env_to_nginx('INFER_SELFTEST=1');

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_SELFTEST_GREETING} = 'hi there';

# blocks without a request default to "GET /t"
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request && !defined $block->raw_request
        && !defined $block->pipelined_requests)
    {
        $block->set_value('request', 'GET /t');
    }
});

add_response_body_check(expected_json_check());

# a custom check with the real Test::Nginx signature
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $want = $block->body_length;
    return unless defined $want;
    $want = $want->[$req_idx] if ref $want;
    SKIP: {
        skip $block->name . " - body_length - skipped due to $dry_run", 1 if $dry_run;
        is(length($body // ''), $want,
           $block->name . " - body_length (req $repeated_req_idx)");
    }
});

run_tests();

# --- the helpers of InferTest, with master and two workers ----------------

my $cfg = <<'_EOC_';
    location = /t { return 200 "ok $pid\n"; }
    location /dav/ {
        root $TEST_NGINX_HTML_DIR;
        dav_methods PUT DELETE;
        create_full_put_path on;
        client_body_buffer_size 1k;
    }
_EOC_

ok(start_nginx(config => $cfg, workers => 2, master => 1, log_level => 'info'),
   'start_nginx with master and 2 workers') or diag($InferTest::LastError);
ok(nginx_running(), 'nginx_running');

my ($status, $headers, $body) = http_request(GET => '/t');
is($status, 200, 'http_request: status');
like($body, qr/^ok \d+\n$/, 'http_request: body');
is($headers->{'content-type'}, 'text/plain', 'http_request: lower-cased headers');

my @workers = worker_pids();
is(scalar @workers, 2, 'worker_pids: two workers');

# every byte value, sent in 7 packets, into a temp file, and back
my $bin = join '', map { chr } 0 .. 255;
$bin x= 64;
my $r = http_request(PUT => '/dav/bin/all-bytes', $bin, {}, packets => 7);
is($r->{status}, 201, 'PUT a 16 KB binary body in 7 packets: 201');
($status, undef, $body) = http_request(GET => '/dav/bin/all-bytes');
ok($status == 200 && $body eq $bin, 'binary body read back intact');

# a chunked request body
my $chunked = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
$r = http_request(PUT => '/dav/chunked.txt', $chunked,
                  { 'Transfer-Encoding' => 'chunked' });
is($r->{status}, 201, 'PUT with a chunked request body: 201');
($status, undef, $body) = http_request(GET => '/dav/chunked.txt');
is($body, 'hello world', 'chunked request body stored');

# parallel clients: 6 processes x 10 requests
my $res = parallel_clients(clients => 6, requests => 10,
                           request => sub { my ($c, $i) = @_;
                                            return (GET => "/t?c=$c&i=$i") });
is(scalar @$res, 60, 'parallel_clients: 60 results');
is(scalar(grep { ($_->{status} // 0) == 200 } @$res), 60,
   'parallel_clients: all 200');
my %pids = map { ($_->{body} // '') =~ /ok (\d+)/ ? ($1 => 1) : () } @$res;
ok(scalar(keys %pids) >= 1, 'parallel_clients: answered by '
   . scalar(keys %pids) . ' worker(s)');
ok(!grep({ !defined $_->{elapsed} } @$res), 'parallel_clients: timings');

my @access = access_log_lines();
is(scalar(grep { m{"GET /t\?c=\d+&i=\d+ HTTP/1.1" 200} } @access), 60,
   'access_log_lines: the 60 parallel requests');

# reload: new workers replace the old ones
my $mark = error_log_mark();
my @new = reload_nginx();
is(scalar @new, 2, 'reload_nginx: two new workers') or diag($InferTest::LastError);
ok(!grep({ my $n = $_; grep { $_ == $n } @workers } @new),
   'reload_nginx: none of the old workers serves');
ok(scalar(grep { /reconfiguring/ } error_log_lines($mark)),
   'error_log_lines(mark): the reload is logged');
is((http_request(GET => '/t'))[0], 200, 'serving after reload');

# reload with a new configuration
@new = reload_nginx(config => $cfg . '    location = /v2 { return 200 "v2\n"; }');
is(scalar @new, 2, 'reload_nginx with a new config');
is((http_request(GET => '/v2'))[2], "v2\n", 'the new config serves');

# signal_master: USR1 reopens the logs
ok(signal_master('USR1'), 'signal_master USR1');

# nginx -t on good and bad configurations
my ($ok, $out) = nginx_check_config(config => 'location = /x { return 204; }');
ok($ok, 'nginx_check_config: good config') or diag($out);
($ok, $out) = nginx_check_config(config => 'location = /x { retrun 204; }');
ok(!$ok, 'nginx_check_config: bad config fails');
like($out, qr/\[emerg\] unknown directive "retrun" in \S+nginx-check\.conf:\d+/,
     'nginx_check_config: the emerg names the directive, file and line');

ok(stop_nginx(), 'stop_nginx');
ok(!nginx_running(), 'nothing runs after stop_nginx');

# --- InferCheck::json_cmp ---------------------------------------------------

my $base = '{"model_name":"m","outputs":[{"name":"y","shape":[2,2],'
         . '"datatype":"FP32","data":[0.5,1e-7,-2.25,1000]}]}';
is(json_cmp($base, $base), undef, 'json_cmp: identical');
is(json_cmp('{"model_name":"m","outputs":[{"name":"y","shape":[2,2],'
            . '"datatype":"FP32","data":[0.50004,5e-7,-2.2502,1000.09]}]}', $base),
   undef, 'json_cmp: within rtol 1e-4 and atol 1e-6');
like(json_cmp('{"model_name":"m","outputs":[{"name":"y","shape":[2,2],'
              . '"datatype":"FP32","data":[0.5,1e-7,-2.26,1000]}]}', $base),
     qr/^at \$\.outputs\[0\]\.data\[2\]: got -2\.26, expected -2\.25 /,
     'json_cmp: the first mismatch, with its path');
like(json_cmp('{"model_name":"m","outputs":[{"name":"y","shape":[2,2],'
              . '"datatype":"FP32","data":[0.5,3e-6,-2.25,1000]}]}', $base),
     qr/data\[1\]/, 'json_cmp: atol floor is 1e-6');
like(json_cmp('{"outputs":[]}', '{"outputs":[],"model_name":"m"}'),
     qr/missing key "model_name"/, 'json_cmp: missing key');
like(json_cmp('{"a":1,"b":2}', '{"a":1}'), qr/unexpected key "b"/,
     'json_cmp: unexpected key');
like(json_cmp('{"shape":[1,3]}', '{"shape":[1,2]}'),
     qr/\$\.shape\[1\]: got 3, expected exactly 2/, 'json_cmp: shapes exact');
like(json_cmp('{"shape":[1.00001]}', '{"shape":[1]}'), qr/exactly/,
     'json_cmp: shapes exact even within rtol');
like(json_cmp('[1,2]', '[1,2,3]'), qr/array of 2 elements, expected 3/,
     'json_cmp: array length');
like(json_cmp('{"x":"0.5"}', '{"x":0.5}'), qr/got string "0\.5", expected number/,
     'json_cmp: a number as a string is a mismatch');
like(json_cmp('{"datatype":"FP16"}', '{"datatype":"FP32"}'),
     qr/got "FP16", expected "FP32"/, 'json_cmp: strings equal');
is(json_cmp('{"id":"x1","a":[true,null]}', { a => [JSON::PP::true(), undef] },
            ignore => ['id']),
   undef, 'json_cmp: Perl expectation, booleans, null, ignored keys');
is(json_cmp('{"a":1.5}', '{"a":1.4}', rtol => 0.1), undef, 'json_cmp: rtol option');
like(json_cmp('{"a":', '{}'), qr/^got is not JSON/, 'json_cmp: bad JSON reported');

# --- fixtures and the numpy reference ------------------------------------------

SKIP: {
    skip 'python3 with numpy, safetensors, scikit-learn not available', 8
        unless have_python_deps();

    my $dir = ensure_fixtures();
    ok(-f "$dir/manifest.json", "ensure_fixtures: $dir/manifest.json");
    my $m = fixture_manifest();
    ok(@{ $m->{models} } >= 10, scalar(@{ $m->{models} }) . ' random models');
    ok(@{ $m->{broken} } >= 10, scalar(@{ $m->{broken} }) . ' broken models');
    my %dt = map { ($_ => 1) } map { @{ $_->{dtypes} } } @{ $m->{models} };
    is(join(',', sort keys %dt), 'BF16,F16,F32', 'fixtures cover F32, F16, BF16');
    my %act = map { ($_->{activation} => 1) } map { @{ $_->{layers} } } @{ $m->{models} };
    is(join(',', sort keys %act), 'gelu,none,relu,sigmoid,tanh', 'every activation');

    my $model = fixture_model('image_1x8x8');
    my ($req, $resp, $doc) = ref_kserve($model->{dir}, rows => 3, seed => 5, name => 'img');
    is_deeply($doc->{request}{inputs}[0]{shape}, [3, 1, 8, 8],
              'ref_kserve: request shape [3, 1, 8, 8]');
    my @rows = map { [ @{ $doc->{request}{inputs}[0]{data} }[64 * $_ .. 64 * $_ + 63] ] } 0 .. 2;
    my $pred = ref_predict($model->{dir}, \@rows);
    is(json_cmp([ map { @$_ } @$pred ], $doc->{response}{outputs}[0]{data}), undef,
       'ref_predict agrees with ref_kserve');
    (undef, undef, $doc) = ref_kserve('models/digits', rows => 50, seed => 3, dist => 'digits');
    my $d = $doc->{response}{outputs}[0]{data};
    my $right = grep {
        my $i = $_;
        my @p = @$d[10 * $i .. 10 * $i + 9];
        my ($best) = sort { $p[$b] <=> $p[$a] } 0 .. 9;
        $best == $doc->{labels}[$i];
    } 0 .. 49;
    ok($right >= 45, "digits model: $right/50 test images right");
}

__DATA__

=== TEST 1: return 200 "hello"
--- config
    location = /t { return 200 "hello\n"; }
--- response_body
hello
--- no_error_log
[error]
[alert]



=== TEST 2: error_code and response_body_like
--- config
    location = /t { return 404; }
--- error_code: 404
--- response_body_like: 404 Not Found
--- no_error_log
[error]



=== TEST 3: error_code_like, raw_response_headers_like
--- config
    location = /t { return 302 /elsewhere; }
--- error_code_like: ^30[12]$
--- raw_response_headers_like: Location: http://localhost:\d+/elsewhere\r\n
--- response_body_like: 302 Found



=== TEST 4: response_headers ("X: value" and "!X") and response_headers_like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        add_header X-Multi one;
        add_header X-Multi two;
        return 200 "h\n";
    }
--- response_headers
X-Foo: bar baz
X-Multi: one, two
Content-Type: text/plain
Content-Length: 2
!X-Missing
--- response_body
h



=== TEST 5: response_headers_like
--- config
    location = /t { return 200 "x"; }
--- response_headers_like
Server: nginx(/[\d.]+)?( \(\w+\))?
Content-Length: \d+
--- response_body chomp
x



=== TEST 6: error_log with a plain string and with eval qr//
--- config
    location /t { root $TEST_NGINX_HTML_DIR; }
--- request
GET /t/missing.txt
--- error_code: 404
--- error_log eval
["missing.txt\" failed (2: No such file or directory)",
 qr/\[error\] \d+#\d+: \*\d+ open\(\) "[^"]+\/t\/missing\.txt" failed/]
--- no_error_log
[alert]
[crit]



=== TEST 7: error_log lines are those of this block only
--- config
    location /t { return 200 "clean\n"; }
--- response_body
clean
--- no_error_log
No such file or directory
[error]



=== TEST 8: must_die with a bad directive (error.log and stderr)
--- config
    location /t { bogus_directive on; }
--- must_die
--- error_log
[emerg] unknown directive "bogus_directive"
unknown directive "bogus_directive" in
--- no_error_log
[alert]



=== TEST 9: must_die with the exit code and a bad argument count
--- config
    location /t { return a b c; }
--- must_die: 1
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "return" directive in \S+nginx\.conf:\d+/



=== TEST 10: request eval: 100 KB body, client_body_buffer_size 1k, stored by DAV and read back
--- config
    location /dav/ {
        root $TEST_NGINX_HTML_DIR;
        dav_methods PUT;
        create_full_put_path on;
        client_body_buffer_size 1k;
    }
--- request eval
["PUT /dav/big.txt\n" . ("a" x 102400), "GET /dav/big.txt"]
--- error_code_like eval
["^20[14]\$", "^200\$"]
--- response_body eval
["", "a" x 102400]
--- body_length eval
[0, 102400]
--- no_error_log
[error]



=== TEST 11: a 100 KB body read into a temp file by nginx (proxy), answered 204
--- config
    location = /t {
        client_body_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location = /sink { return 204; }
--- request eval
"POST /t\n" . ("0123456789" x 10240)
--- error_code: 204
--- response_body
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[error]



=== TEST 12: more_headers and $TEST_NGINX_* substitution
--- config
    location = /t { return 200 "$http_x_foo/$http_user_agent/$TEST_NGINX_SELFTEST_GREETING\n"; }
--- more_headers
# a comment line
X-Foo: bar
User-Agent: selftest
--- response_body
bar/selftest/hi there



=== TEST 13: http_config, main_config (load_module before events and http)
--- skip_eval: 2: !-f '/usr/lib/nginx/modules/ngx_stream_module.so'
--- main_config
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
--- post_main_config
stream { server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; return "s\n"; } }
--- http_config
    map $arg_v $answer { default none; 1 one; }
--- config
    location = /t { return 200 "$answer\n"; }
--- request
GET /t?v=1
--- response_body
one



=== TEST 14: chunked response (SSI of a user file) decoded
--- user_files
>>> ssi.html
[<!--# echo var="arg_x" default="none" -->]
--- config
    location = /t { ssi on; root $TEST_NGINX_HTML_DIR; rewrite ^ /ssi.html break; }
--- request
GET /t?x=42
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
[42]



=== TEST 15: HEAD request
--- config
    location = /t { return 200 "not sent\n"; }
--- request
HEAD /t
--- response_headers
Content-Length: 9
--- response_body



=== TEST 16: response_body eval qr//, response_body_unlike
--- config
    location = /t { return 200 "pid $pid\n"; }
--- response_body eval
qr/^pid \d+$/



=== TEST 17: response_body_unlike
--- config
    location = /t { return 200 "fine\n"; }
--- response_body_unlike: error



=== TEST 18: pipelined_requests on one connection
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 201 "B\n"; }
--- pipelined_requests eval
["GET /a", "POST /b\nsome body"]
--- error_code eval
[200, 201]
--- response_body eval
["A\n", "B\n"]



=== TEST 19: raw_request in packets with a delay
--- config
    location = /t { return 200 "raw $request_method\n"; }
--- raw_request eval
["GET /t HTTP/1.1\r\nHost: loc", {value => "alhost\r\nConnection: close\r\n\r\n", delay_before => 0.05}]
--- response_body
raw GET



=== TEST 20: request packets keep their split (body arrives in two parts)
--- config
    location /dav/ {
        root $TEST_NGINX_HTML_DIR;
        dav_methods PUT;
        create_full_put_path on;
    }
--- request eval
[[ "PUT /dav/two.txt\nfirst-", {value => "second", delay_before => 0.05} ], "GET /dav/two.txt"]
--- error_code_like eval
["^20[14]\$", "^200\$"]
--- response_body eval
["", "first-second"]



=== TEST 21: timeout and abort: a delayed answer cut by the client
--- http_config
    limit_req_zone $server_name zone=slow:1m rate=1r/m;
--- config
    # limit_req acts after the rewrite phase: a static file, not "return"
    location = /index.html { limit_req zone=slow burst=5; root $TEST_NGINX_HTML_DIR; }
--- request eval
["GET /index.html", "GET /index.html"]
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 22: shutdown of the writing side after the request
--- config
    location = /t { return 200 "half-closed ok\n"; }
--- shutdown: 1
--- response_body
half-closed ok



=== TEST 23: access_log, grep_error_log
--- config
    location = /t { return 200 "x\n"; }
--- request
GET /t?marker=access
--- access_log
GET /t?marker=access HTTP/1.1
--- grep_error_log eval
qr/using the "\w+" event method/
--- grep_error_log_out eval
["using the \"epoll\" event method\n", ""]



=== TEST 24: skip_nginx skips its subtests
--- skip_nginx: 2: < 999.0.0
--- config
    location = /t { return 500; }
--- response_body
never checked



=== TEST 25: SKIP is skipped
--- SKIP
--- config
    location = /t { return 500; }
--- response_body
never checked



=== TEST 26: expected_json: numbers within tolerance, exact shapes
--- config
    location = /t {
        default_type application/json;
        return 200 '{"model_name":"m","outputs":[{"name":"y","shape":[1,3],"datatype":"FP32","data":[0.10000001,0.2000049,0.7]}]}';
    }
--- expected_json
{"model_name": "m", "outputs": [{"name": "y", "shape": [1, 3],
 "datatype": "FP32", "data": [0.1, 0.2, 0.7]}]}
--- response_headers
Content-Type: application/json



=== TEST 27: expected_json: Perl structure, json_rtol, json_ignore
--- config
    location = /t { return 200 '{"id":"r1","v":[1.05,true,null,"s"]}'; }
--- expected_json eval
{ v => [1.0, JSON::PP::true(), undef, "s"] }
--- json_rtol: 0.1
--- json_ignore: id



=== TEST 28: config section reused from the previous block
--- request
GET /t
--- response_body chomp
{"id":"r1","v":[1.05,true,null,"s"]}
