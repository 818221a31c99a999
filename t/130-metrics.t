# infer_metrics: the Prometheus text, parsed and compared with the requests
# this test sent, from two workers (the counters are in shared memory, so
# either worker reports the same totals).  Every answer names the worker
# that gave it (X-Worker: $pid), so the test knows that both workers
# served the requests and that the metrics of each were read.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               worker_connections => 256,
               http_config => "    infer_model digits $repo/models/digits "
                              . "max_batch=16 queue=32 instances=1;\n",
               config => <<'_EOC_'),
    location /v2 { infer_api kserve; add_header X-Worker $pid always; }
    location = /metrics { infer_metrics; add_header X-Worker $pid always; }
_EOC_
   'nginx starts') or BAIL_OUT($InferTest::LastError);

sub parse_metrics {
    my ($b) = @_;
    my %m;
    for (split /\n/, $b // '') {
        next if /^#/;
        /^(\S+) (\S+)$/ or next;
        $m{$1} = $2;
    }
    return \%m;
}

sub metrics {
    my ($st, $h, $b) = http_request('GET', '/metrics');
    return ($st, $h, parse_metrics($b), $b);
}

# the executor lives in one of the two workers: it may still be starting
wait_until { (metrics())[2]{'ngx_infer_executors_ready{model="digits"}'} }
    10;

my ($st, $h, $m0, $text) = metrics();
is($st, 200, 'GET /metrics');
like($h->{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'Prometheus type');
like($text, qr/^# TYPE ngx_infer_inference_request_success counter$/m,
     'TYPE lines');
is($m0->{'ngx_infer_inference_request_success{model="digits",version="1"}'},
   0, 'nothing counted yet');
is($m0->{'ngx_infer_queue_free_slots{model="digits"}'}, 32,
   'every slot is free');
is($m0->{'ngx_infer_executors_ready{model="digits"}'}, 1, 'one executor');
is($m0->{'ngx_infer_model_info{model="digits",device="cpu",precision="fp32",max_batch="16"}'},
   1, 'the model\'s device');

# 60 good requests of 1 to 3 rows from 6 clients, and 7 bad ones
my @spec = map { { dir => "$repo/models/digits", name => 'digits',
                   rows => 1 + $_ % 3, seed => $_ } } 0 .. 59;
my $cases = ref_cases(\@spec);
my @bodies = map { encode_json($_->{request}) } @$cases;
my $rows = 0;
$rows += $_->{rows} for @spec;

my @workers = worker_pids();
is(scalar @workers, 2, 'two workers');

# each request on its own connection (Connection: close), six at a time:
# the kernel hands the connections to both workers (about 30 each)
my $res = parallel_clients(clients => 6, requests => 10, request => sub {
    my ($c, $i) = @_;
    return ['POST', '/v2/models/digits/infer', $bodies[$c * 10 + $i]];
});
is(scalar(grep { ($_->{status} // 0) == 200 } @$res), 60,
   '60 good requests answered');
my %served;
$served{ $_->{headers}{'x-worker'} // 'none' }++ for @$res;
is_deeply([sort keys %served], [sort @workers],
          'both workers answered them, and nothing else did')
    or diag(explain \%served);

for my $bad ('{', '{}', '{"inputs":[]}', '[1]',
             '{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32",'
             . '"data":[1]}]}',
             '{"inputs":[{"name":"x","shape":[1,64],"datatype":"FP32",'
             . '"data":[1]}]}',
             '{"inputs":[{"name":"input","shape":[99,64],"datatype":"FP32",'
             . '"data":[]}]}')
{
    my ($s) = http_request('POST', '/v2/models/digits/infer', $bad);
    is($s, 400, "bad request $bad: 400");
}

# ask both workers: the totals are the same.  A few /metrics requests at
# a time until each worker has answered one (bounded: 20 rounds of 8).
my %text;
for my $round (1 .. 20) {
    my $r = parallel_clients(clients => 4, requests => 2,
                             request => ['GET', '/metrics']);
    for (@$r) {
        next unless ($_->{status} // 0) == 200;
        $text{ $_->{headers}{'x-worker'} // 'none' } //= $_->{body};
    }
    last if keys %text >= 2;
}
is_deeply([sort keys %text], [sort @workers],
          'both workers answered GET /metrics')
    or diag(explain [keys %text]);
my @from = map { [$_, parse_metrics($text{$_})] } sort keys %text;
is_deeply($from[1][1], $from[0][1],
          "the metrics of worker $from[0][0] and of worker "
          . ($from[1][0] // '?') . ' agree') if @from == 2;

for my $w (@from) {
    my ($try, $m) = ("worker $w->[0]", $w->[1]);
    my $k = 'model="digits",version="1"';
    is($m->{"ngx_infer_inference_request_success{$k}"}, 60,
       "[$try] request_success 60");
    is($m->{"ngx_infer_inference_request_failure{$k}"}, 7,
       "[$try] request_failure 7");
    is($m->{"ngx_infer_inference_count{$k}"}, $rows,
       "[$try] inference_count is the $rows rows sent");
    my $exec = $m->{"ngx_infer_inference_exec_count{$k}"};
    ok($exec >= 1 && $exec <= 60, "[$try] exec_count $exec batches");
    is($m->{'ngx_infer_batch_size_count{model="digits"}'}, $exec,
       "[$try] the batch histogram counts every batch");
    is($m->{'ngx_infer_batch_size_bucket{model="digits",le="+Inf"}'}, $exec,
       "[$try] its +Inf bucket too");
    is($m->{'ngx_infer_batch_size_sum{model="digits"}'}, $rows,
       "[$try] and sums the rows");
    is($m->{'ngx_infer_request_duration_seconds_count{model="digits"}'}, 60,
       "[$try] the latency histogram counts the successes");
    my $prev = 0;
    my $mono = 1;
    for my $le (qw(0.000500 0.001000 0.002500 0.005000 0.010000 0.025000
                   0.050000 0.100000 0.250000 0.500000 1.000000 2.500000
                   5.000000 10.000000 +Inf))
    {
        my $v = $m->{"ngx_infer_request_duration_seconds_bucket{model=\"digits\",le=\"$le\"}"};
        $mono = 0 if !defined $v || $v < $prev;
        $prev = $v // 0;
    }
    ok($mono && $prev == 60, "[$try] latency buckets are cumulative up to 60");
    ok($m->{"ngx_infer_inference_compute_infer_duration_us{$k}"} > 0,
       "[$try] compute time counted");
    is($m->{'ngx_infer_queue_depth{model="digits"}'}, 0,
       "[$try] the queue is empty");
    is($m->{'ngx_infer_queue_free_slots{model="digits"}'}, 32,
       "[$try] every slot is free again");
}

# a reload that keeps the model keeps the counters
my @w = reload_nginx();
ok(@w, 'reload') or diag($InferTest::LastError);
my (undef, undef, $m1) = metrics();
is($m1->{'ngx_infer_inference_request_success{model="digits",version="1"}'},
   60, 'the counters go on across a reload that keeps the model');

my ($s405) = http_request('POST', '/metrics', 'x');
is($s405, 405, 'POST /metrics: 405');

stop_nginx();
done_testing();
