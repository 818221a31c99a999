# Generations through nginx as clients see them, driven by
# t/lib/chat_clients.py against SmolLM2-135M-Instruct (make models):
# greedy answers, streamed and not, raw and through the openai package;
# tokens arriving one by one with gzip on too; a stream joining another's
# generation, each text as alone; a client leaving mid-stream, its blocks
# freed; stop strings, max_tokens, seeds, a full queue, infer_timeout, a
# reload while a stream runs, the executor's worker killed mid-stream.
# Then nginx's own view: the access log and a clean error log.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use Cwd ();
use POSIX ();
use InferTest;

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $smol = "$repo/build/models/SmolLM2-135M-Instruct.Q4_1.gguf";
my $py = $ENV{TEST_INFER_PYTHON} || 'python3';
my $script = "$repo/t/lib/chat_clients.py";

plan skip_all => "no $smol (make models)" unless -f $smol;
plan skip_all => "no openai in $py: make deps"
    unless system($py, '-c', 'import openai') == 0;

my $J = JSON::PP->new->utf8->canonical(1);
my $logs = InferTest::nginx_prefix() . '/logs';

# a second server whose connections the kernel spreads over the workers
# (reuseport), each answer saying which worker has it: the crash check
# needs streams owned by the worker that does not host the executor
my $port2 = InferTest::_free_port() // die 'no free port';

my $http = <<"_EOC_";
    log_format chat '\$request_method \$request_uri \$status '
                    '\$infer_tokens \$request_time';
    infer_model smol $smol kv_cache=64m ctx=1024 max_batch=8 instances=1;
    infer_model tiny $smol kv_cache=8m ctx=128 max_batch=2 queue=2
                instances=1;
    server {
        listen 127.0.0.1:$port2 reuseport;
        location /v1/ {
            infer_api openai;
            add_header X-Worker \$pid always;
        }
    }
_EOC_

my $config = <<"_EOC_";
        access_log $logs/chat.log chat;
        location /v1/ { infer_api openai; }
        location /gz/v1/ {
            infer_api openai;
            gzip on;
            gzip_types text/event-stream application/json;
            gzip_min_length 1;
        }
        location /slow/v1/ {
            infer_api openai;
            infer_timeout 1ms;
            error_log $logs/slow.log;
        }
        location = /metrics { infer_metrics; }
_EOC_

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => $http, config => $config),
   'nginx starts with SmolLM2 twice, 2 workers')
    or BAIL_OUT($InferTest::LastError);

my ($n, $done, @noise) = (0);
{
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        $InferTest::InSubprocess = 1;
        open STDERR, '>&', \*STDOUT;
        exec($py, $script, '--port', nginx_port(), '--pid', master_pid(),
             '--error-log', "$logs/error.log", '--port2', $port2)
            or POSIX::_exit(127);
    }
    local $SIG{ALRM} = sub { kill 'KILL', $pid };
    alarm 300;
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
}
is($?, 0, 'chat_clients.py exits 0') or diag(@noise);
ok($done && $done->{done} == $n, "chat_clients.py ran to the end ($n checks)")
    or diag(@noise);

sub log_lines {
    my $f = shift;
    open my $in, '<', $f or return ();
    my @l = <$in>;
    close $in;
    return @l;
}

http_request('GET', '/metrics?last');
wait_until { grep { m{^GET /metrics\?last } } log_lines("$logs/chat.log") } 3;
my @acc = log_lines("$logs/chat.log");

ok((grep { m{^POST /v1/chat/completions 200 \d+ } } @acc),
   'the access log has the chat completions, $infer_tokens the prompt');
my @five = grep { / 5\d\d / && !m{^POST /slow/v1/chat/completions 504 }
                  && !m{^POST /v1/chat/completions 503 } } @acc;
is(scalar @five, 0, 'no 5xx but the full queue\'s and /slow/v1\'s')
    or diag(@five);

my @err = grep { /\[(alert|crit|emerg)\]/
                 && !/worker process \d+ exited on signal 9/ }
               log_lines("$logs/error.log");
is(scalar @err, 0, 'no [alert], [crit] or [emerg] in the error log but '
   . 'the killed worker\'s') or diag(@err);

stop_nginx();

done_testing();
