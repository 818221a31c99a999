# The module among nginx's own modules, through real HTTP: what runs
# before its handler (limit_req, limit_conn, auth_request, allow/deny,
# client_max_body_size) refuses a request before its body is decoded or a
# slot is taken, and the refusal is the API's JSON error; what the
# configuration itself answers (error_page, return with a text) is left
# alone, and so is infer_metrics, which is not an API; nginx's gzip
# compresses the answers; the access log has the module's variables.
# (map and split_clients routing: t/030-infer.t.)

use Test::Nginx::Socket 'no_plan';
use InferCheck;
use IO::Socket::INET;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use POSIX ();
use Time::HiRes qw(sleep time);

ensure_fixtures();
no_shuffle();
log_level('info');
add_response_body_check(expected_json_check());

sub slurp { local (@ARGV, $/) = @_; <> }

# the README's example request: one row of scikit-learn's digits
our $Digits = slurp("$ENV{TEST_NGINX_REPO}/models/digits/example-request.json");
$Digits =~ s/\s+$//;

# three rows for the access log's batch size
our $Rows3 = '{"inputs":[{"name":"input","shape":[3,64],"datatype":"FP32",'
    . '"data":[' . join(',', map { ($_ % 17) / 16 } 1 .. 192) . ']}]}';

our $Embed = '{"model":"bert","input":["a first text","and a second"]}';

our $ForbiddenPage = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n"
    . "<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
    . "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

sub infer_req { "POST /v2/models/digits/infer\n$_[0]" }

# a request that holds a connection: its headers and half its body sent,
# read by nginx (nothing left in the server side's receive queue), the
# rest sent after $delay seconds by a child, which then reads the answer
# and writes it to $file
sub server_read_all {
    my ($port) = @_;
    my $lport = sprintf('%04X', $ENV{TEST_NGINX_SERVER_PORT});
    my $rport = sprintf('%04X', $port);
    open my $fh, '<', '/proc/net/tcp' or return 0;
    while (<$fh>) {
        my @f = split ' ';
        next unless @f > 4 && $f[1] =~ /:$lport$/ && $f[2] =~ /:$rport$/;
        my (undef, $rx) = split /:/, $f[4];
        return hex($rx) == 0;
    }
    return 0;
}

our ($HeldPid, $HeldFile);

sub hold_request {
    my ($uri, $body, $delay) = @_;
    $HeldFile = InferTest::server_root() . "/held-$$";
    unlink $HeldFile;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
        or die "connect: $!";
    my $half = int(length($body) / 2);
    syswrite($s, "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                 . "\r\nContent-Length: " . length($body) . "\r\n\r\n"
                 . substr($body, 0, $half));
    my $t0 = time;
    sleep 0.01 until server_read_all($s->sockport) || time > $t0 + 10;
    $HeldPid = fork // die "fork: $!";
    if ($HeldPid == 0) {
        $InferTest::InSubprocess = 1;
        sleep $delay;
        syswrite($s, substr($body, $half));
        local $/;
        my $raw = <$s>;
        open my $out, '>', "$HeldFile.tmp" or POSIX::_exit(1);
        print $out $raw // '';
        close $out;
        rename "$HeldFile.tmp", $HeldFile;
        POSIX::_exit(0);
    }
    close $s;
}

# --- held_response: what the held request got, once its child is done
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    my $exp = $block->held_response;
    return unless defined $exp && $HeldPid;
    my $last = ref $block->request eq 'ARRAY' ? $#{ $block->request } : 0;
    return unless $req_idx == $last;
    waitpid($HeldPid, 0);
    undef $HeldPid;
    my $r = InferTest::parse_http_response(slurp($HeldFile));
    Test::More::like("$r->{code} $r->{content}", $exp,
                     $block->name . ' - the held request is answered');
});

# --- gunzipped: request 1 (Accept-Encoding: gzip) gunzips to request 0
my @plain;
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    return unless defined $block->gunzipped && !$dry_run;
    if ($req_idx == 0) {
        $plain[$repeated] = $body;
        return;
    }
    my $out;
    gunzip(\$body => \$out)
        or Test::More::diag("gunzip: $GunzipError");
    is_str($out, $plain[$repeated],
           $block->name . ' - the gzip body inflates to the plain answer');
});

# --- access_log_times: the last line's batch=, queue= and compute= (ms)
# against rt= ($request_time, s): the batch the request's rows, queue and
# compute within the request's time ($request_time counts milliseconds)
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    my $rows = $block->access_log_times;
    return unless defined $rows && !$dry_run;
    my @l = grep { /batch=/ } @{ Test::Nginx::Socket::access_log_data() };
    my ($b, $q, $c, $rt) = ($l[-1] // '')
        =~ /batch=(\d+) queue=(\d+\.\d{3}) compute=(\d+\.\d{3}) rt=(\d+\.\d{3})$/;
    Test::More::is($b, $rows, $block->name . ' - batch= the request\'s rows');
    Test::More::ok(defined $q && $q + $c <= $rt * 1000 + 1,
                   $block->name . " - queue $q + compute $c ms within "
                   . "request_time $rt s");
});

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    infer_model digits $TEST_NGINX_REPO/models/digits;
    infer_model bert $TEST_NGINX_FIXTURES/bert/r_f32_max_norm instances=1;
_EOC_
    }

    if (!defined $block->no_error_log) {
        $block->set_value('no_error_log', "[alert]\n[crit]\n");
    }
});

run_tests();

__DATA__

=== TEST 1: limit_req refuses before the body is decoded: its 503, not the codec's 400, and nothing counted
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    limit_req_zone $server_name zone=one:1m rate=1r/m;
--- config
    location /v2 { limit_req zone=one; infer_api kserve; }
    location = /metrics { infer_metrics; }
--- request eval
[main::infer_req($main::Digits), main::infer_req('{"inputs": ['), "GET /metrics"]
--- error_code eval
[200, 503, 200]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json", "Content-Type: text/plain; version=0.0.4"]
--- response_body eval
[qr/^\{"model_name":"digits","model_version":"1","outputs":\[\{"name":"probabilities"/,
 '{"error":"too many requests: over the rate that limit_req allows, retry later"}',
 qr/^ngx_infer_inference_request_success\{model="digits",version="1"\} 1\n(?:.*\n)*ngx_infer_inference_request_failure\{model="digits",version="1"\} 0\n(?:.*\n)*ngx_infer_inference_count\{model="digits",version="1"\} 1\n(?:.*\n)*ngx_infer_queue_free_slots\{model="digits"\} 1024\n/m]



=== TEST 2: limit_req_status 429 in an OpenAI location: OpenAI's rate_limit_error
--- http_config
    infer_model bert $TEST_NGINX_FIXTURES/bert/r_f32_max_norm instances=1;
    limit_req_zone $server_name zone=one:1m rate=1r/m;
--- config
    location /v1/ { limit_req zone=one; limit_req_status 429; infer_api openai; }
--- request eval
["POST /v1/embeddings\n$main::Embed", "POST /v1/embeddings\n{not json"]
--- error_code eval
[200, 429]
--- response_body eval
[qr/^\{"object":"list","data":\[\{"object":"embedding","index":0,"embedding":\[/,
 '{"error":{"message":"too many requests: over the rate that limit_req allows, retry later","type":"rate_limit_error","param":null,"code":null}}']



=== TEST 3: limit_conn: a second request while one holds the connection slot, refused before its body is read
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    limit_conn_zone $server_name zone=conns:1m;
--- config
    location /v2 { limit_conn conns 1; infer_api kserve; }
--- init
main::hold_request('/v2/models/digits/infer', $main::Digits, 1);
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n"
--- shutdown: 1
--- timeout: 3
--- error_code: 503
--- response_body chomp
{"error":"too many connections: over what limit_conn allows, retry later"}
--- held_response eval
qr/^200 \{"model_name":"digits","model_version":"1","outputs":\[\{"name":"probabilities","datatype":"FP32","shape":\[1,10\],"data":\[/
--- error_log
limiting connections by zone "conns"



=== TEST 4: auth_request refuses before the body is read: the headers of a 100000-byte body, and the 401 at once
--- config
    location /v2 { auth_request /auth; infer_api kserve; }
    location = /auth {
        internal;
        if ($http_authorization != "Bearer k1") { return 401; }
        return 204;
    }
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n"
--- shutdown: 1
--- timeout: 3
--- error_code: 401
--- response_headers
Content-Type: application/json
Content-Length: 53
--- response_body chomp
{"error":"authentication required: no valid API key"}



=== TEST 5: auth_request lets the right key through
--- config
    location /v2 { auth_request /auth; infer_api kserve; }
    location = /auth {
        internal;
        if ($http_authorization != "Bearer k1") { return 401; }
        return 204;
    }
--- more_headers
Authorization: Bearer k1
--- request eval
main::infer_req($main::Digits)
--- response_body_like: ^\{"model_name":"digits","model_version":"1","outputs":\[



=== TEST 6: auth_request's 403 in an OpenAI location, in OpenAI's shape
--- config
    location /v1/ { auth_request /auth; infer_api openai; }
    location = /auth { internal; return 403; }
--- raw_request eval
"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 5000\r\n\r\n{\"model\""
--- shutdown: 1
--- timeout: 3
--- error_code: 403
--- response_body chomp
{"error":{"message":"access forbidden","type":"invalid_request_error","param":null,"code":null}}



=== TEST 7: a Content-Length over client_max_body_size: nginx's 413, answered when it finds the location, as the API's JSON
--- config
    location /v2 { client_max_body_size 1k; infer_api kserve; }
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 2048\r\n\r\n"
--- abort
--- timeout: 1
--- error_code: 413
--- response_headers
Content-Type: application/json
Content-Length: 65
--- response_body chomp
{"error":"request body is larger than client_max_body_size 1024"}
--- error_log
client intended to send too large body: 2048 bytes



=== TEST 8: the same in an OpenAI location
--- config
    location /v1/ { client_max_body_size 1k; infer_api openai; }
--- raw_request eval
"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 2048\r\n\r\n"
--- abort
--- timeout: 1
--- error_code: 413
--- response_body chomp
{"error":{"message":"request body is larger than client_max_body_size 1024","type":"invalid_request_error","param":null,"code":null}}



=== TEST 9: a chunked body over client_max_body_size: caught while the module reads it, the same JSON
--- config
    location /v1/ { client_max_body_size 1k; infer_api openai; }
--- more_headers
Transfer-Encoding: chunked
--- request eval
my $chunk = 'x' x 800;
"POST /v1/embeddings\n" . sprintf("%x\r\n%s\r\n", 800, $chunk) x 2 . "0\r\n\r\n"
--- error_code: 413
--- response_body chomp
{"error":{"message":"request body is larger than client_max_body_size 1024","type":"invalid_request_error","param":null,"code":null}}
--- error_log
client intended to send too large chunked body



=== TEST 10: an error_page of the configuration wins over the JSON: its own page, nginx's status
--- config
    location /v2 {
        client_max_body_size 1k;
        error_page 413 /too-big.json;
        infer_api kserve;
    }
    location = /too-big.json { root html; }
--- user_files
>>> too-big.json
{"error":"our own words: at most 1k"}
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 2048\r\n\r\n"
--- abort
--- timeout: 1
--- error_code: 413
--- response_body
{"error":"our own words: at most 1k"}



=== TEST 11: return with a text of the configuration is left alone; return without one is nginx's, made JSON
--- config
    location /blocked/v2 { return 403 "blocked by policy\n"; infer_api kserve; }
    location /denied/v2 { return 403; infer_api kserve; }
--- request eval
[main::infer_req($main::Digits) =~ s{^POST }{POST /blocked}r,
 main::infer_req($main::Digits) =~ s{^POST }{POST /denied}r]
--- error_code eval
[403, 403]
--- response_headers eval
["Content-Type: text/plain", "Content-Type: application/json"]
--- response_body eval
["blocked by policy\n", '{"error":"access forbidden"}']



=== TEST 12: deny in an API location: 403 as the API's JSON
--- config
    location /v2 { deny all; infer_api kserve; }
--- request eval
main::infer_req($main::Digits)
--- error_code: 403
--- response_body chomp
{"error":"access forbidden"}
--- error_log
access forbidden by rule



=== TEST 13: allow 127.0.0.1 on the metrics location: the metrics
--- config
    location = /metrics { allow 127.0.0.1; deny all; infer_metrics; }
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body eval
qr/\A# HELP ngx_infer_inference_request_success .*^ngx_infer_inference_request_success\{model="digits",version="1"\} 0$/ms



=== TEST 14: deny all on the metrics location: nginx's own 403 page, for /metrics is not an API
--- config
    location = /metrics { deny all; infer_metrics; }
--- request
GET /metrics
--- error_code: 403
--- response_headers
Content-Type: text/html
--- response_body eval
$main::ForbiddenPage
--- error_log
access forbidden by rule



=== TEST 15: gzip on: an answer compressed by nginx's gzip filter when the client accepts it, plain when not
--- config
    location /v2 { gzip on; gzip_types application/json; infer_api kserve; }
--- request eval
[main::infer_req($main::Digits), main::infer_req($main::Digits)]
--- more_headers eval
["", "Accept-Encoding: gzip"]
--- response_headers eval
["Content-Type: application/json\n!Content-Encoding", "Content-Type: application/json\nContent-Encoding: gzip\n!Content-Length"]
--- response_body eval
[qr/^\{"model_name":"digits","model_version":"1","outputs":\[\{"name":"probabilities","datatype":"FP32","shape":\[1,10\],"data":\[[^\]]+\]\}\]\}$/,
 qr/^\x1f\x8b/]
--- gunzipped



=== TEST 16: gzip on an OpenAI location: the embeddings compressed
--- config
    location /v1/ { gzip on; gzip_types application/json; infer_api openai; }
--- request eval
["POST /v1/embeddings\n$main::Embed", "POST /v1/embeddings\n$main::Embed"]
--- more_headers eval
["", "Accept-Encoding: gzip"]
--- response_headers eval
["!Content-Encoding", "Content-Encoding: gzip"]
--- response_body eval
[qr/^\{"object":"list","data":\[\{"object":"embedding","index":0,"embedding":\[/,
 qr/^\x1f\x8b/]
--- gunzipped



=== TEST 17: the access log: $infer_batch_size, $infer_queue_time and $infer_compute_time beside $request_time
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    log_format infer '$request_uri $status batch=$infer_batch_size '
                     'queue=$infer_queue_time compute=$infer_compute_time '
                     'rt=$request_time';
--- config
    location /v2 { access_log logs/access.log infer; infer_api kserve; }
--- request eval
main::infer_req($main::Rows3)
--- response_body_like: ^\{"model_name":"digits","model_version":"1","outputs":\[\{"name":"probabilities","datatype":"FP32","shape":\[3,10\]
--- access_log eval
qr{^/v2/models/digits/infer 200 batch=3 queue=\d+\.\d{3} compute=\d+\.\d{3} rt=\d+\.\d{3}$}
--- access_log_times: 3



=== TEST 18: a request refused by limit_req has no batch: the variables log "-"
--- http_config
    infer_model digits $TEST_NGINX_REPO/models/digits;
    limit_req_zone $server_name zone=one:1m rate=1r/m;
    log_format infer '$request_uri $status batch=$infer_batch_size '
                     'queue=$infer_queue_time compute=$infer_compute_time';
--- config
    location /v2 { limit_req zone=one; access_log logs/access.log infer; infer_api kserve; }
--- init
my ($st) = InferTest::http_request('POST', '/v2/models/digits/infer', $main::Digits);
die "the first request: $st" unless $st == 200;
--- request eval
main::infer_req($main::Digits)
--- error_code: 503
--- response_body chomp
{"error":"too many requests: over the rate that limit_req allows, retry later"}
--- access_log eval
[qr{^/v2/models/digits/infer 200 batch=1 queue=\d+\.\d{3} compute=\d+\.\d{3}$},
 qr{^/v2/models/digits/infer 503 batch=- queue=- compute=-$}]
--- error_log eval
qr{limiting requests, excess: [01]\.\d{3} by zone "one"}



=== TEST 19: a broken chunked body, all in one packet: the request body could not be read
--- config
    location /v2 { infer_api kserve; }
--- raw_request eval
"POST /v2/models/digits/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"inp\r\nzz\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"the request body could not be read"}
--- error_log
client sent invalid chunked body



=== TEST 20: a broken chunked body after a pause, found by nginx while the module waits for the rest: nginx's 400, the same JSON
--- config
    location /v1/ { infer_api openai; }
--- raw_request eval
["POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"mod\r\n",
 "zz\r\n"]
--- raw_request_middle_delay: 0.2
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"message":"the request body could not be read","type":"invalid_request_error","param":null,"code":null}}
--- error_log
client sent invalid chunked body
