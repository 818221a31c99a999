# 10,000 clients that send a request and go away without reading the
# answer, a hundred at a time, some before their body is complete; then
# the metrics must show every slot free again and the queue empty, and the
# server must still answer.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use InferTest;
use InferCheck;

ensure_fixtures();

my $model = fixture_model('mlp784') or BAIL_OUT('no mlp784 fixture');

ok(start_nginx(workers => 2, master => 1, log_level => 'warn',
               worker_connections => 1024,
               http_config => "    infer_model m $model->{dir} max_batch=64 "
                              . "queue=256 instances=1;\n",
               config => <<'_EOC_'),
    location /v2 { infer_api kserve; }
    location = /metrics { infer_metrics; }
_EOC_
   'nginx starts') or BAIL_OUT($InferTest::LastError);

my ($req, $exp) = ref_kserve($model->{dir}, rows => 1, seed => 8, name => 'm',
                             version => '1');
my $head = "POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\n"
           . "Content-Length: " . length($req) . "\r\n\r\n";

my ($sent, $failed) = (0, 0);
my $t0 = time;

for my $round (1 .. 100) {
    my @socks;
    for my $i (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => nginx_port(), Timeout => 5);
        if (!$s) {
            $failed++;
            next;
        }
        # one in ten leaves half-way through its body
        print $s $head, ($i % 10 ? $req : substr($req, 0, length($req) / 2));
        push @socks, $s;
        $sent++;
    }
    close $_ for @socks;
}

my $took = time - $t0;
is($sent, 10000, sprintf('10,000 clients sent and left (%.1f s)', $took));
is($failed, 0, 'every connection was accepted');

sub metric {
    my ($name) = @_;
    my (undef, undef, $b) = http_request('GET', '/metrics');
    return $b =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# the requests still in the queue finish or are dropped
my $free;
wait_until { ($free = metric('ngx_infer_queue_free_slots{model="m"}') // 0)
             == 256 } 30;
is($free, 256, 'every slot is free again');
is(metric('ngx_infer_queue_depth{model="m"}'), 0, 'the queue is empty');

my $ok = metric('ngx_infer_inference_request_success{model="m",version="1"}');
my $ko = metric('ngx_infer_inference_request_failure{model="m",version="1"}');
cmp_ok($ok + $ko, '<=', 9000, "no more requests counted than were whole "
                              . "($ok answered into closed sockets, "
                              . "$ko failed)");

my ($st, undef, $b) = http_request('POST', '/v2/models/m/infer', $req);
is($st, 200, 'the server still answers');
is(json_cmp(decode_json($b), decode_json($exp)), undef, 'and right');

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts[0 .. 4]);

stop_nginx();
done_testing();
