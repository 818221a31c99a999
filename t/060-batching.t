# Batching across workers is real: two workers, one executor, many
# concurrent clients.  Batches larger than one row form (seen through
# $infer_batch_size in the access log), and every answer still equals the
# numpy reference for its own input: no rows mixed up between requests.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $model = fixture_model('mlp784') or BAIL_OUT('no mlp784 fixture');
my ($clients, $per_client) = (24, 15);

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               worker_connections => 256,
               http_config => <<"_EOC_",
    log_format infer '\$request_uri \$status batch=\$infer_batch_size '
                     'queue=\$infer_queue_time compute=\$infer_compute_time';
    access_log logs/access.log infer;
    infer_model mlp784 $model->{dir} max_batch=64 batch_timeout=5ms
                instances=1;
_EOC_
               config => "    location /v2/ { infer_api kserve; }\n"),
   'nginx with 2 workers and 1 executor') or BAIL_OUT($InferTest::LastError);

my @spec;
for my $c (0 .. $clients - 1) {
    for my $i (0 .. $per_client - 1) {
        push @spec, { dir => $model->{dir}, name => 'mlp784',
                      rows => 1 + ($c + $i) % 3, seed => 100 * $c + $i,
                      version => '1' };
    }
}

my $cases = ref_cases(\@spec);
my $json = JSON::PP->new->canonical(1);
my @bodies = map { $json->encode($_->{request}) } @$cases;

my $res = parallel_clients(
    clients => $clients, requests => $per_client, timeout => 20,
    request => sub {
        my ($c, $i) = @_;
        return ['POST', "/v2/models/mlp784/infer?c=$c&i=$i",
                $bodies[$c * $per_client + $i]];
    });

is(scalar @$res, $clients * $per_client, 'every client request came back');

my ($ok, $mixed) = (0, 0);
for my $r (@$res) {
    my $case = $cases->[$r->{client} * $per_client + $r->{seq}];
    if (($r->{status} // 0) != 200) {
        diag("client $r->{client} #$r->{seq}: " . ($r->{status} // 'none')
             . ' ' . ($r->{body} // $r->{error} // ''));
        next;
    }
    my $got = eval { decode_json($r->{body}) };
    my $err = $got ? json_cmp($got, $case->{response}) : 'not JSON';
    if ($err) {
        $mixed++;
        diag("client $r->{client} #$r->{seq}: $err") if $mixed < 5;
        next;
    }
    $ok++;
}

is($ok, $clients * $per_client, 'every answer is 200 and equals the '
                                . 'reference for its own rows');
is($mixed, 0, 'no answer carries another request\'s rows');

my @log = grep { m{^/v2/models/mlp784/infer} } access_log_lines();
is(scalar @log, $clients * $per_client, 'one access log line per request');

my ($max, $sum, $n) = (0, 0, 0);
for (@log) {
    my ($b) = /batch=(\d+)/ or next;
    $max = $b if $b > $max;
    $sum += $b;
    $n++;
}

is($n, scalar @log, 'every line has $infer_batch_size');
# a request brings at most 3 rows: a larger batch holds several requests
cmp_ok($max, '>', 3, "batches of several requests formed (largest: "
                     . "$max rows, mean per request "
                     . sprintf('%.1f', $n ? $sum / $n : 0) . ")");
cmp_ok($max, '<=', 64, 'no batch is larger than max_batch');
like($log[0], qr/queue=\d+\.\d{3} compute=\d+\.\d{3}$/,
     '$infer_queue_time and $infer_compute_time are milliseconds');

my @alerts = grep { /\[(alert|crit|emerg)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

stop_nginx();
done_testing();
