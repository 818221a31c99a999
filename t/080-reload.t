# nginx -s reload while requests are in flight loses none of them: clients
# send a stream of requests across two reloads (one with the model
# unchanged, one that changes the model's files, so the old workers
# finish on the old queue and weights) and every request is answered 200,
# with the numpy reference's outputs for its rows (the changed file has
# the same weights, only a new mtime: one reference serves before, between
# and after the reloads).

use strict;
use warnings;
use Test::More;
use JSON::PP;
use File::Copy qw(copy);
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $model = fixture_model('mlp784') or BAIL_OUT('no mlp784 fixture');

# a private copy of the model, so the test may change its files
my $dir = InferTest::server_root() . '/model-copy';
make_path($dir);
copy("$model->{dir}/$_", "$dir/$_") or die "copy $_: $!"
    for qw(config.json model.safetensors);

my %conf = (workers => 2, master => 1, log_level => 'info',
            worker_connections => 256,
            http_config => "    infer_model m $dir max_batch=32 instances=1;\n",
            config => "    location /v2/ { infer_api kserve; }\n");

ok(start_nginx(%conf), 'nginx starts') or BAIL_OUT($InferTest::LastError);

my ($req, $exp) = ref_kserve($dir, rows => 2, seed => 5, name => 'm',
                             version => '1');

# '' when a response is a 200 whose body equals the reference within the
# parity tolerance (InferCheck's defaults, as t/050 and t/060), else what
# is wrong with it
my %checked;
sub wrong_answer {
    my ($status, $body, $error) = @_;
    return 'no response: ' . ($error // '?') unless defined $status;
    return "status $status: " . ($body // '') if $status != 200;
    # the stream sends one request again and again: each distinct body
    # is compared once
    return $checked{$body} //= json_cmp($body, $exp) // '' if defined $body;
    return 'no body';
}
my ($clients, $per_client) = (8, 300);

my $hups = InferTest::server_root() . '/hup-times';
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    # the reloads, while the clients below are busy
    open my $f, '>', $hups or die;
    sleep 0.2;
    printf $f "%.6f\n", time;
    kill 'HUP', master_pid();
    sleep 0.3;
    # same size and shape, a changed file: a new queue for new workers
    utime(undef, undef, "$dir/model.safetensors");
    printf $f "%.6f\n", time;
    kill 'HUP', master_pid();
    close $f;
    POSIX::_exit(0);
}

my $t0 = time;
my $res = parallel_clients(clients => $clients, requests => $per_client,
                           timeout => 20,
                           request => ['POST', '/v2/models/m/infer', $req]);
waitpid($pid, 0);
my $took = time - $t0;

my %status;
$status{ $_->{status} // ('error: ' . ($_->{error} // '?')) }++ for @$res;

is(scalar @$res, $clients * $per_client, 'every request came back');
is($status{200} // 0, $clients * $per_client,
   "all $clients x $per_client requests answered 200 across two reloads")
    or diag(explain \%status);
my @wrong;
for my $r (@$res) {
    my $w = wrong_answer($r->{status}, $r->{body}, $r->{error});
    push @wrong, "client $r->{client} #$r->{seq}: $w" if length($w // '');
}
is(scalar @wrong, 0, 'every answer of the stream equals the reference '
                     . 'for its rows')
    or diag(join "\n", @wrong[0 .. ($#wrong < 4 ? $#wrong : 4)]);
my @hup = do { open my $f, '<', $hups or die; map { 0 + $_ } <$f> };
my ($first, $last) = (1e20, 0);
for (@$res) {
    $first = $_->{start} if $_->{start} < $first;
    $last = $_->{end} if $_->{end} > $last;
}
ok($first < $hup[0] && $last > $hup[1],
   sprintf('the stream ran from before the first reload to after the '
           . 'second (%.2f s)', $took));

my @log = error_log_lines(0);
is(scalar(grep { /signal 1 \(SIGHUP\) received/ } @log), 2,
   'two reloads happened');
is(scalar(grep { /model "m" is unchanged, its queue goes on/ } @log), 1,
   'the first reload kept the queue');
is(scalar(grep { /model "m" from ".*": a queue of/ } @log), 2,
   'the second, with the model changed, made a new one');
my @alerts = grep { /\[(alert|crit|emerg)\]/ } @log;
is(scalar @alerts, 0, 'no [alert] in the error log') or diag(@alerts);

# the new workers serve
wait_until { my @w = worker_pids(); @w == 2 } 10;
my ($status, undef, $body) = http_request('POST', '/v2/models/m/infer', $req);
is($status, 200, 'the new workers answer');
is(wrong_answer($status, $body, $InferTest::LastError) || undef, undef,
   'with the reference\'s outputs');

# --- a reload whose model is broken keeps the running configuration ----------

{
    my @before = worker_pids();
    my $mark = error_log_mark();
    my $broken = "$ENV{TEST_NGINX_FIXTURES}/broken/shape_mismatch";
    ok(!reload_nginx(http_config => "    infer_model m $broken;\n",
                     timeout => 3),
       'a reload with a broken model brings no new workers');
    ok((grep { /\[emerg\].*model "m": .*layers\[1\]\.weight is \[3, 5\]/ }
             error_log_lines($mark)), 'the error log says why');
    is_deeply([sort(worker_pids())], [sort @before],
              'the running workers go on');
    my ($status, undef, $body) = http_request('POST', '/v2/models/m/infer',
                                              $req);
    is($status, 200, 'and answer with the model they have');
    is(wrong_answer($status, $body, $InferTest::LastError) || undef, undef,
       'the reference\'s outputs still');
}

stop_nginx();
done_testing();
