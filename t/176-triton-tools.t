# Triton's own tools against the module, unchanged: its Python client
# (tritonclient.http, driven by t/lib/triton_clients.py) on the model
# configuration, statistics and model repository extensions, with the
# counts checked exactly; then perf_analyzer from the tritonclient 2.40.0
# wheel (make perf-analyzer puts it in build/perf-analyzer) at concurrency
# 1 and 8, its report read and the server's statistics compared with it;
# then a model left without an executor, which the repository index calls
# UNAVAILABLE until the master has replaced the worker that hosted it.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use List::Util qw(min sum);
use Cwd ();
use POSIX ();
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $py = $ENV{TEST_INFER_PYTHON} || 'python3';
my $pa = "$repo/build/perf-analyzer/bin/perf_analyzer";
my $image = fixture_model('image_1x8x8') or BAIL_OUT('no image_1x8x8 fixture');

plan skip_all => "no tritonclient[http] in $py: make deps"
    unless system($py, '-c', 'import tritonclient.http, numpy, safetensors')
           == 0;

my $J = JSON::PP->new->utf8->canonical(1);

# digits: an executor in each worker; image: one, in the first worker
ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => <<"_EOC_",
    infer_model digits $repo/models/digits max_batch=16 batch_timeout=3ms
                instances=2;
    infer_model image $image->{dir} max_batch=8 instances=1;
    infer_timeout 3s;
_EOC_
               config => <<'_EOC_'),
        location /v2 { infer_api kserve; }
_EOC_
   'nginx starts with digits and image, 2 workers')
    or BAIL_OUT($InferTest::LastError);

ok((wait_until { (http_request('GET', '/v2/health/ready'))[0] == 200 } 30),
   'both models are ready');

# a command's JSON lines as tests, as t/170-clients.t reads them
sub run_checks {
    my ($secs, @cmd) = @_;
    my ($n, $done, @noise) = (0);
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        $InferTest::InSubprocess = 1;
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    local $SIG{ALRM} = sub { kill 'KILL', $pid };
    alarm $secs;
    while (my $l = <$out>) {
        my $r = $l =~ /^\{/ ? eval { $J->decode($l) } : undef;
        if (!$r) {
            push @noise, $l;
        } elsif (exists $r->{done}) {
            $done = $r;
        } else {
            $n++;
            ok($r->{ok}, $r->{name}) or diag($r->{diag});
        }
    }
    alarm 0;
    close $out;
    is($?, 0, "$cmd[1] exits 0") or diag(@noise);
    ok($done && $done->{done} == $n, "$cmd[1] ran to the end ($n checks)")
        or diag(@noise);
}

sub stats {
    my ($model) = @_;
    my ($st, undef, $b) = http_request('GET', "/v2/models/$model/stats");
    return undef unless ($st // 0) == 200;
    return $J->decode($b)->{model_stats}[0];
}

sub index_body {
    my ($body) = @_;
    my ($st, undef, $b) = http_request('POST', '/v2/repository/index',
                                       $body // '');
    return ($st // 0) == 200 ? $b : '';
}

# --- tritonclient ----------------------------------------------------------

run_checks(90, $py, "$repo/t/lib/triton_clients.py", '--port', nginx_port(),
           '--model', 'digits', '--dir', "$repo/models/digits",
           '--max-batch', 16, '--delay-us', 3000, '--instances', 2,
           '--other', 'image');

# --- perf_analyzer ------------------------------------------------------------

SKIP: {
    skip "no $pa (make perf-analyzer: PyPI's tritonclient 2.40.0)", 9
        unless -x $pa;

    my $before = stats('digits');

    # windows of 0.5 s, stable within 50 %: a short run, on a loaded
    # machine too
    my @cmd = ($pa, '-m', 'digits', '-u', '127.0.0.1:' . nginx_port(),
               '-i', 'http', '--concurrency-range', '1:8:7', '-p', 500,
               '-s', 50, '-r', 20);
    my $report = '';
    {
        my $pid = open(my $out, '-|') // die "fork: $!";
        if (!$pid) {
            $InferTest::InSubprocess = 1;
            open STDERR, '>&', \*STDOUT;
            exec(@cmd) or POSIX::_exit(127);
        }
        local $SIG{ALRM} = sub { kill 'KILL', $pid };
        alarm 180;
        local $/;
        $report = <$out> // '';
        alarm 0;
        close $out;
    }
    is($?, 0, 'perf_analyzer -i http --concurrency-range 1:8:7 exits 0')
        or diag($report);

    # each "Request concurrency: N" section: the client's lines, then
    # the server's, which perf_analyzer reads from the statistics
    my (%client, %server);
    for my $sec (split /^(?=Request concurrency: )/m, $report) {
        $sec =~ /^Request concurrency: (\d+)$/m or next;
        my $c = $1;
        my %v;
        for my $k ('Request count', 'Throughput', 'Inference count',
                   'Execution count', 'Successful request count')
        {
            $v{$k} = $sec =~ /^ +\Q$k\E: ([\d.]+)(?: infer\/sec)?$/m
                     ? $1 : 0;
        }
        $client{$c} = { requests => $v{'Request count'},
                        throughput => $v{Throughput} };
        $server{$c} = { inferences => $v{'Inference count'},
                        executions => $v{'Execution count'},
                        successes => $v{'Successful request count'} };
    }

    for my $c (1, 8) {
        ok($client{$c} && $client{$c}{throughput} > 0,
           "perf_analyzer reports a throughput at concurrency $c")
            or diag($report);
        ok($server{$c} && $server{$c}{successes} > 0
           && $server{$c}{inferences} >= $server{$c}{executions},
           "and the server's side at concurrency $c, from the statistics "
           . 'extension')
            or diag($report);
    }
    my $line = 'throughput: [\d.]+ infer/sec, latency \d+ usec';
    like($report, qr{^Concurrency: 1, $line\nConcurrency: 8, $line$}m,
         'its summary has both concurrencies');
    diag($1) if $report =~ /^(Concurrency: 1.*\nConcurrency: 8.*)$/m;

    # it sends more than it measures (warm-up, the windows it discards)
    my $after = stats('digits');
    my $seen = $after->{inference_stats}{success}{count}
               - $before->{inference_stats}{success}{count};
    my $measured = sum(0, map { $_->{requests} } values %client);
    cmp_ok($seen, '>=', $measured,
           "the server answered every request it measured ($seen >= "
           . "$measured)");
    is($after->{inference_stats}{fail}{count},
       $before->{inference_stats}{fail}{count}, 'and none with an error');

    # the access log: what else it asked for
    my @paths = map { m{"(?:GET|POST) (/v2\S*)} ? $1 : () }
                access_log_lines();
    ok((grep { $_ eq '/v2/models/digits/config' } @paths),
       'perf_analyzer read the model configuration');
}

# --- a model without an executor --------------------------------------------------

# the worker that hosts image's executor quits while the master, stopped,
# cannot start another in its place
my ($host) = map { /\] (\d+)#\d+: .*executor 0 of model "image" started/
                   ? $1 : () } error_log_lines(0);
ok($host, "image's executor runs in worker " . ($host // '?'));

our $Stopped = master_pid();
END { kill 'CONT', $Stopped if $Stopped }   # whatever happens below
kill 'STOP', $Stopped;
kill 'QUIT', $host;

my $down = '[{"name":"digits","version":"1","state":"READY"},'
           . '{"name":"image","version":"1","state":"UNAVAILABLE",'
           . '"reason":"no executor of the model is running"}]';
my $got;
wait_until { ($got = index_body()) eq $down } 10;
is($got, $down, 'the index: digits READY (the other worker\'s executor), '
                . 'image UNAVAILABLE, with the reason');
is(index_body('{"ready": true}'),
   '[{"name":"digits","version":"1","state":"READY"}]',
   '{"ready": true}: digits alone');
is((http_request('GET', '/v2/models/image/ready'))[0], 503,
   'image\'s /ready says the same (503)');

kill 'CONT', $Stopped;
$Stopped = undef;

my $up = '[{"name":"digits","version":"1","state":"READY"},'
         . '{"name":"image","version":"1","state":"READY"}]';
wait_until { ($got = index_body()) eq $up } 30;
is($got, $up, 'once the master has started another worker, image is READY '
              . 'again');

my @bad = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @bad, 0, 'no [alert], [crit] or [emerg] in the error log')
    or diag(@bad[0 .. min($#bad, 9)]);

stop_nginx();
done_testing();
