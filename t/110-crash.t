# A worker that dies without a word (kill -9).  The executor's worker dies
# in the middle of a batch: the master starts another, whose executor takes
# up the queue, and the requests of the other worker that were in the dead
# batch are computed again and answered, none left hanging.  Then a worker
# that owns queued requests dies: its slots come back.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use InferTest;
use InferCheck;

ensure_fixtures();

my $heavy = fixture_model('heavy') or BAIL_OUT('no heavy fixture');

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               worker_connections => 256,
               http_config => <<"_EOC_",
    infer_model heavy $heavy->{dir} max_batch=16 queue=64 instances=1;
    infer_timeout 30s;
_EOC_
               config => <<'_EOC_'),
    location /v2 { infer_api kserve; add_header X-Worker $pid always; }
_EOC_
   'nginx starts with 2 workers and 1 executor')
    or BAIL_OUT($InferTest::LastError);

sub executor_pid {
    my @l = grep { /executor 0 of model "heavy" started/ } error_log_lines(0);
    return $l[-1] =~ /\] (\d+)#/ ? $1 : undef;
}

# the executor logs its start once its model has run a first batch: a
# worker takes connections only after that, but the master listens first
my $victim;
wait_until { $victim = executor_pid() } 60;
ok($victim, "the executor runs in worker " . ($victim // '?'));

my $body = encode_json({ inputs => [{ name => 'input', shape => [16, 1024],
    datatype => 'FP32', data => [map { ($_ % 5) / 5 } 1 .. 16 * 1024] }] });

# clients keep the queue busy while the executor's worker is killed
my $stamp = InferTest::server_root() . '/kill-time';
my $killer = fork // die;
if ($killer == 0) {
    sleep 0.8;
    open my $f, '>', $stamp or die;
    printf $f "%.6f\n", time;
    close $f;
    kill 'KILL', $victim;
    POSIX::_exit(0);
}

my $res = parallel_clients(clients => 12, requests => 8, timeout => 25,
                           request => ['POST', '/v2/models/heavy/infer',
                                       $body]);
waitpid($killer, 0);
my $t_kill = do { open my $f, '<', $stamp or die; 0 + <$f> };

my (%st, $survivor_ok);
$survivor_ok = 0;
for my $r (@$res) {
    my $k = defined $r->{status} ? $r->{status} : 'connection lost';
    $st{$k}++;
    $survivor_ok++ if ($r->{status} // 0) == 200
                      && ($r->{headers}{'x-worker'} // '') ne $victim
                      && $r->{end} > $t_kill;
}

# the statuses are shown only when one of these fails
is(scalar @$res, 96, 'every client came back') or diag(explain \%st);
ok(!grep({ $_ ne '200' && $_ ne 'connection lost' } keys %st),
   'every request was answered 200, or lost its connection with the '
   . 'killed worker') or diag(explain \%st);
ok(!grep({ ($_->{error} // '') =~ /timeout/ } @$res), 'none hung')
    or diag(explain \%st);
ok($survivor_ok, "the other worker's requests were answered after the kill "
                 . "($survivor_ok)") or diag(explain \%st);

my @log = error_log_lines(0);
ok((grep { /worker process $victim exited on signal 9/ } @log),
   'the master saw the worker die');
ok((grep { /requests were queued again/ } @log),
   'the batch of the dead executor was queued again');

my $new;
wait_until { $new = executor_pid(); $new && $new ne $victim } 60;
isnt($new, $victim, "a new executor runs in worker " . ($new // '?'));

my ($s) = http_request('GET', '/v2/models/heavy/ready');
is($s, 200, 'the model is ready again');

# --- a worker that owns queued requests dies ------------------------------------

my @w = worker_pids();
my ($owner) = grep { $_ ne $new } @w;
ok($owner, "the other worker is $owner");

my $killer2 = fork // die;
if ($killer2 == 0) {
    sleep 0.7;
    kill 'KILL', $owner;
    POSIX::_exit(0);
}

$res = parallel_clients(clients => 12, requests => 2, timeout => 25,
                        request => ['POST', '/v2/models/heavy/infer', $body]);
waitpid($killer2, 0);
ok(!grep({ ($_->{error} // '') =~ /timeout/ } @$res), 'none hung');

# every slot comes back: 64 requests at once all get a slot (no 503)
wait_until { my @x = worker_pids(); @x == 2 } 10;
sleep 0.5;
my $small = encode_json({ inputs => [{ name => 'input', shape => [1, 1024],
    datatype => 'FP32', data => [(0.1) x 1024] }] });
$res = parallel_clients(clients => 32, requests => 2, timeout => 25,
                        request => ['POST', '/v2/models/heavy/infer',
                                    $small]);
my $n503 = grep { ($_->{status} // 0) == 503 } @$res;
my $n200 = grep { ($_->{status} // 0) == 200 } @$res;
is($n200, 64, "afterwards every slot is usable: 64 answers 200 "
              . "($n503 were 503)");

my @alerts = grep { /\[(alert|crit|emerg)\]/ && !/exited on signal 9/ }
             error_log_lines(0);
is(scalar @alerts, 0, 'no other [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
