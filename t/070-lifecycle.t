# A request's life past the happy path: a full queue (503 at once, with
# Retry-After), a model too slow for infer_timeout (504), a client that
# goes away while its request is queued or computing (no crash, no leaked
# slot), a body that nginx wrote to a temporary file.  The "heavy" fixture
# (1024-4096-4096-1024, 3.2 GFLOP for 64 rows) keeps a request busy long
# enough to be sure of the order of events on a loaded machine.  The test
# waits on state, never a fixed time: the queue's gauges in infer_metrics
# (a slot taken, a request handed to the executor, the slot back) and the
# kernel's socket queue (nginx has read what the client sent).

use strict;
use warnings;
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use InferTest;
use InferCheck;

ensure_fixtures();

my $heavy = fixture_model('heavy') or BAIL_OUT('no heavy fixture');
my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();

ok(start_nginx(workers => 1, master => 1, log_level => 'info',
               http_config => <<"_EOC_",
    infer_model heavy $heavy->{dir} max_batch=64 queue=1 instances=1;
    infer_model digits $repo/models/digits;
_EOC_
               config => <<'_EOC_'),
    location /v2/ { infer_api kserve; }
    location /slow/ { infer_api kserve; infer_timeout 5ms; }
    location /small/ { infer_api kserve; client_body_buffer_size 1k; }
    location = /metrics { infer_metrics; }
_EOC_
   'nginx starts') or BAIL_OUT($InferTest::LastError);

# 64 rows of the heavy model: one batch of about 100 ms or more
my $rows = 64;
my $body = encode_json({ inputs => [{
    name => 'input', shape => [$rows, 1024], datatype => 'FP32',
    data => [map { ($_ % 7) / 7 } 1 .. $rows * 1024] }] });

sub send_raw {
    my ($uri, $data) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => nginx_port(), Timeout => 5)
        or die "connect: $!";
    print $s "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Content-Length: " . length($data) . "\r\n\r\n" . $data;
    return $s;
}

sub read_all {
    my ($s) = @_;
    local $/;
    my $raw = <$s>;
    close $s;
    return parse_http_response($raw);
}

# the queue of the heavy model as infer_metrics shows it: (requests
# waiting, free slots); the slots are taken from a request's arrival until
# its batch ends
sub heavy_queue {
    my ($st, undef, $b) = http_request('GET', '/metrics');
    return (undef, undef) unless ($st // 0) == 200;
    my ($depth) = $b =~ /^ngx_infer_queue_depth\{model="heavy"\} (\d+)$/m;
    my ($free) = $b =~ /^ngx_infer_queue_free_slots\{model="heavy"\} (\d+)$/m;
    return ($depth, $free);
}

my $bound = $InferTest::UseValgrind ? 60 : 10;

# wait until the queue is in a state (a sub of depth and free slots);
# true, or false with the last state seen in $last_state.  Polled every
# millisecond or so (a /metrics answer takes about 0.3 ms), so that even
# a batch of a few milliseconds on a fast machine is seen computing.
my $last_state;
sub wait_queue {
    my ($want) = @_;
    return wait_until {
        my ($d, $f) = heavy_queue();
        $last_state = 'depth ' . ($d // '?') . ', free slots ' . ($f // '?');
        defined $d && defined $f && $want->($d, $f);
    } $bound, 0.001;
}

# the one request sent is in its batch: its slot taken, none waiting
sub wait_computing { wait_queue(sub { $_[0] == 0 && $_[1] == 0 }) }

sub wait_ready_again {
    # the heavy batch in flight ends; the one slot must be free again, and
    # usable: a request then is answered 200
    wait_queue(sub { $_[0] == 0 && $_[1] == 1 })
        or return "the slot is not free after ${bound}s ($last_state)";
    my ($status) = http_request('POST', '/v2/models/heavy/infer', $body);
    return $status // "no answer: $InferTest::LastError";
}

# nginx has read all that the client sent on $sock: the server side of the
# connection (local port nginx's, remote port the client's) has nothing in
# its receive queue, in /proc/net/tcp
sub server_read_all {
    my ($sock) = @_;
    my ($lport, $rport) = (sprintf('%04X', nginx_port()),
                           sprintf('%04X', $sock->sockport));
    open my $fh, '<', '/proc/net/tcp' or return 0;
    while (<$fh>) {
        my @f = split ' ';
        next unless @f > 4 && $f[1] =~ /:$lport$/ && $f[2] =~ /:$rport$/;
        my (undef, $rx) = split /:/, $f[4];
        return hex($rx) == 0;
    }
    return 0;
}

# --- a full queue -----------------------------------------------------------

{
    my $mark = error_log_mark();
    my $first = send_raw('/v2/models/heavy/infer', $body);
    ok(wait_queue(sub { $_[1] == 0 }),
       'the first request holds the only slot') or diag($last_state);

    my ($status, $h, $b) = http_request('POST', '/v2/models/heavy/infer',
                                        $body);
    is($status, 503, 'queue full: 503 at once');
    is($h->{'retry-after'}, '1', 'queue full: Retry-After: 1');
    is($b, '{"error":"the queue of model \"heavy\" is full, retry later"}',
       'queue full: a JSON error that says so');

    my $r = read_all($first);
    is($r->{code}, 200, 'the queued request is answered');
    is(scalar @{ decode_json($r->{content})->{outputs}[0]{data} }, $rows * 1024,
       'with all its outputs');

    my @log = error_log_lines($mark);
    ok((grep { /\[warn\].*queue of model "heavy" is full \(1 requests\)/ }
             @log), 'queue full: a [warn] in the error log');
}

# --- infer_timeout ------------------------------------------------------------

{
    my $mark = error_log_mark();
    my ($status, $h, $b) = http_request('POST', '/slow/v2/models/heavy/infer',
                                        $body);
    is($status, 504, 'infer_timeout: 504');
    is($b, '{"error":"model \"heavy\" did not answer within infer_timeout"}',
       'infer_timeout: a JSON error that says so');
    ok((grep { /\[error\].*model "heavy" did not answer in time/ }
             error_log_lines($mark)), 'infer_timeout: an [error] line');
    is(wait_ready_again(), 200, 'the timed-out request\'s slot is freed');
}

# --- the request's own timeout, parameters.timeout in microseconds ------------

{
    my $b = $body;
    $b =~ s/^\{/{"parameters":{"timeout":5000},/;
    my ($status, $h, $resp) = http_request('POST', '/v2/models/heavy/infer',
                                           $b);
    is($status, 504, 'parameters.timeout of 5 ms: 504');
    is(wait_ready_again(), 200, 'and its slot is freed');
}

# --- clients that go away -----------------------------------------------------

{
    # gone while its request computes
    my $s = send_raw('/v2/models/heavy/infer', $body);
    ok(wait_computing(), 'a request computes') or diag($last_state);
    close $s;
    is(wait_ready_again(), 200, 'a client gone while computing: its slot '
                                . 'is freed when the batch ends');

    # gone while queued behind another
    my $a = send_raw('/v2/models/heavy/infer', $body);
    ok(wait_computing(), 'another request computes') or diag($last_state);
    my $b = send_raw('/v2/models/digits/infer',
                     encode_json({ inputs => [{ name => 'input',
                         shape => [1, 64], datatype => 'FP32',
                         data => [(0.5) x 64] }] }));
    close $b;
    my $r = read_all($a);
    is($r->{code}, 200, 'the other request is answered');

    # gone half-way through its body
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => nginx_port());
    print $c "POST /v2/models/heavy/infer HTTP/1.1\r\nHost: x\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n"
             . substr($body, 0, 1000);
    ok((wait_until { server_read_all($c) } $bound),
       'nginx has read the start of the body');
    close $c;

    # many at once
    for (1 .. 20) {
        close send_raw('/v2/models/digits/infer', $body);
    }

    my ($status) = http_request('GET', '/v2/health/ready');
    is($status, 200, 'nginx still serves after clients went away');
    is(wait_ready_again(), 200, 'and the heavy model\'s slot is free');
}

# --- a body in a temporary file ----------------------------------------------

{
    my ($req, $exp) = ref_kserve("$repo/models/digits", rows => 4, seed => 3,
                                 name => 'digits', version => '1');
    cmp_ok(length $req, '>', 1024, 'the request is larger than '
                                   . 'client_body_buffer_size 1k');
    my $mark = error_log_mark();
    my ($status, undef, $b) = http_request('POST',
                                           '/small/v2/models/digits/infer',
                                           $req);
    is($status, 200, 'temp-file body: 200');
    is(json_cmp(decode_json($b), decode_json($exp)), undef,
       'temp-file body: the answer equals the reference');
    ok((grep { /a client request body is buffered to a temporary file/ }
             error_log_lines($mark)), 'the body did go to a temporary file');
}

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

my @workers = worker_pids();
is(scalar @workers, 1, 'the worker never died');

stop_nginx();
done_testing();
