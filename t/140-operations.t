# Operations: a reload that changes the model's weights under a stream of
# requests (answers before it use the old weights, after it the new, none
# fails); nginx -s quit with requests queued (all answered before the
# workers exit); a client sending its body a few bytes at a time.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp ();
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $root = InferTest::server_root();

# two versions of one model: B is A with its last bias shifted
my $tmp = File::Temp::tempdir('infer-ops-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($dir_a, $dir_b, $live) = ("$tmp/a", "$tmp/b", "$tmp/live");
make_path($dir_a, $dir_b, $live);
for my $f (qw(config.json model.safetensors)) {
    copy("$repo/models/digits/$f", "$dir_a/$f") or die "copy: $!";
    copy("$repo/models/digits/$f", "$live/$f") or die "copy: $!";
}
system(InferCheck::python_bin(), '-c', <<'_PY_', $dir_a, $dir_b) == 0
import sys, shutil, numpy as np
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1] + "/model.safetensors")
t["fc2.bias"] = (t["fc2.bias"] + np.arange(10, dtype=np.float32)).astype(np.float32)
save_file(t, sys.argv[2] + "/model.safetensors")
shutil.copy(sys.argv[1] + "/config.json", sys.argv[2] + "/config.json")
_PY_
    or BAIL_OUT('cannot make model B');

my ($req, $exp_a) = ref_kserve($dir_a, rows => 2, seed => 3, dist => 'digits',
                               name => 'm', version => '1');
my (undef, $exp_b) = ref_kserve($dir_b, rows => 2, seed => 3, dist => 'digits',
                                name => 'm', version => '1');
$exp_a = decode_json($exp_a);
$exp_b = decode_json($exp_b);
ok(json_cmp($exp_a, $exp_b), 'the two versions answer differently');

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               worker_connections => 256,
               http_config => "    infer_model m $live max_batch=16;\n",
               config => "    location /v2 { infer_api kserve; }\n"),
   'nginx starts') or BAIL_OUT($InferTest::LastError);

# --- a reload that changes the weights, under load ------------------------------

my $stamps = "$root/reload-times";
my $pid = fork // die;
if ($pid == 0) {
    sleep 0.4;
    # a new file, renamed into place: what a deployment does
    copy("$dir_b/model.safetensors", "$live/model.safetensors.new") or die;
    rename("$live/model.safetensors.new", "$live/model.safetensors") or die;
    open my $f, '>', $stamps or die;
    printf $f "%.6f\n", time;
    kill 'HUP', master_pid();
    # new workers are up once no old worker is left (they exit when done)
    my %old = map { $_ => 1 } worker_pids();
    wait_until { my @w = worker_pids(); @w == 2 && !grep { $old{$_} } @w } 10;
    printf $f "%.6f\n", time;
    close $f;
    POSIX::_exit(0);
}

# enough requests that the stream outlasts the reload by a wide margin on
# a quiet machine and a busy one alike (a stream done before the new
# workers were up left "both versions answered" to chance)
my $res = parallel_clients(clients => 6, requests => 600, timeout => 30,
                           request => ['POST', '/v2/models/m/infer', $req]);
waitpid($pid, 0);
my ($t_hup, $t_new) = do { open my $f, '<', $stamps or die; map { 0 + $_ } <$f> };

my ($a, $b, $bad, $late_a, $early_b) = (0, 0, 0, 0, 0);
for my $r (@$res) {
    my $got = ($r->{status} // 0) == 200 ? eval { decode_json($r->{body}) }
                                          : undef;
    if ($got && !json_cmp($got, $exp_a)) {
        $a++;
        $late_a++ if $r->{start} > $t_new;
    } elsif ($got && !json_cmp($got, $exp_b)) {
        $b++;
        $early_b++ if $r->{end} < $t_hup;
    } else {
        $bad++;
        diag("status " . ($r->{status} // 'none') . ': '
             . ($r->{body} // $r->{error} // '')) if $bad < 4;
    }
}

is($bad, 0, "no request failed across the reload ($a old, $b new)");
ok($a > 0 && $b > 0, 'both versions answered');
is($early_b, 0, 'no answer before the reload used the new weights');
is($late_a, 0, 'no request sent after the new workers were up used the old '
               . 'weights');

# --- nginx -s quit with requests in the queue ------------------------------------

{
    # Under valgrind the executor thread, computing a 16-row batch of the
    # heavy model for minutes, holds valgrind's one lock and the worker's
    # event loop barely runs; mlp784 is slow enough there to keep a queue.
    my ($name, $width) = $InferTest::UseValgrind ? ('mlp784', 784)
                                                 : ('heavy', 1024);
    my $fx = fixture_model($name);
    ok(restart_nginx(http_config => "    infer_model $name $fx->{dir} "
                                    . "max_batch=16 instances=1;\n",
                     config => "    location /v2 { infer_api kserve; }\n"
                               . "    location /metrics { infer_metrics; }\n"),
       "nginx with the $name model") or diag($InferTest::LastError);
    my ($free0, $done0) = slots_and_answers($name);

    my $body = encode_json({ inputs => [{ name => 'input',
        shape => [16, $width], datatype => 'FP32',
        data => [map { ($_ % 3) / 3 } 1 .. 16 * $width] }] });

    my @socks;
    for (1 .. 8) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => nginx_port()) or die;
        print $s "POST /v2/models/$name/infer HTTP/1.1\r\nHost: x\r\n"
                 . "Connection: close\r\nContent-Length: " . length($body)
                 . "\r\n\r\n$body";
        push @socks, $s;
    }
    # all 8 read, holding a slot (queued or computing) or answered,
    # however slow the server (valgrind)
    my $read = wait_until {
        my ($free, $done) = slots_and_answers($name);
        $free0 - $free + $done - $done0 == 8;
    } 60;
    ok($read, 'the 8 requests were read')
        or diag('free slots and answers: ' . join(' ', slots_and_answers($name)));
    my $master = master_pid();
    kill 'QUIT', $master;

    my $ok = 0;
    for my $s (@socks) {
        local $/;
        my $raw = <$s>;
        my $r = parse_http_response($raw);
        $ok++ if ($r->{code} // 0) == 200;
    }
    is($ok, 8, 'nginx -s quit: all 8 queued requests answered 200');
    my $gone = wait_until { !InferTest::is_running($master) } 30;
    ok($gone, 'and then nginx exited');
}

sub slots_and_answers {
    my ($model) = @_;
    my (undef, undef, $b) = http_request('GET', '/metrics');
    $b //= '';
    my ($free) = $b =~ /^ngx_infer_queue_free_slots\{model="$model"\} (\d+)$/m;
    my ($done) = $b =~ /^ngx_infer_inference_request_success
                        \{model="$model",version="1"\}\ (\d+)$/mx;
    return ($free // 0, $done // 0);
}

# --- a client that sends its body a few bytes at a time --------------------------

{
    ok(restart_nginx(http_config => "    infer_model m $dir_a;\n"),
       'nginx again') or diag($InferTest::LastError);
    my $n = int(length($req) / 7) + 1;
    my ($st, undef, $b) = http_request('POST', '/v2/models/m/infer', $req,
                                       {}, packets => $n, delay => 0.002,
                                       timeout => 30);
    is($st, 200, "a body sent 7 bytes at a time ($n packets): 200");
    is(json_cmp(decode_json($b // '{}'), $exp_a), undef,
       'and the answer equals the reference');
}

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
