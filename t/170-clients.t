# The clients users run, against the module: OpenAI's Python package
# (`openai`) on /v1/embeddings and /v1/models, Triton's (`tritonclient.http`)
# on KServe v2, driven by t/lib/clients.py.  Its embeddings are checked
# against the references of t/lib/gen_bert.py (t/fixtures/bert:
# sentence-transformers' all-MiniLM-L6-v2), within cosine 0.99999 and 1e-4
# absolute; its errors as the package raises them; its retries counted.
# Then what nginx saw: the bodies the packages sent, and a clean error log.
# Triton's request_compression_algorithm (a gzip or deflate body) is
# inflated, as Triton does.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use List::Util qw(min);
use Cwd ();
use POSIX ();
use InferTest;

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $fix = $ENV{TEST_NGINX_FIXTURES} || "$repo/t/fixtures";
my $root = "$fix/bert";
my $py = $ENV{TEST_INFER_PYTHON} || 'python3';
my $script = "$repo/t/lib/clients.py";

plan skip_all => "no $root/manifest.json: make fixtures"
    unless -f "$root/manifest.json";
plan skip_all => "no openai or tritonclient[http] in $py: make deps"
    unless system($py, '-c', 'import openai, tritonclient.http, numpy') == 0;

my $J = JSON::PP->new->utf8->canonical(1);

my $manifest = do {
    open my $in, '<', "$root/manifest.json" or die "$root/manifest.json: $!";
    local $/;
    $J->decode(<$in>);
};
my %dir = map { $_->{name} => ($_->{dir} =~ m{^/} ? $_->{dir}
                                                 : "$root/$_->{dir}") }
              @{ $manifest->{models} };
my ($model, $other) = ('minilm', 'r_f16_mean_norm');
plan skip_all => "no $model or $other in $root/manifest.json"
    unless $dir{$model} && $dir{$other};

my $logs = InferTest::nginx_prefix() . '/logs';

# the bodies as nginx read them, and who sent them
my $http = <<"_EOC_";
    log_format clients escape=json
        '\$request_method \$request_uri \$status ua="\$http_user_agent" '
        'ihcl="\$http_inference_header_content_length" body=\$request_body';
    infer_model $model $dir{$model} max_batch=64;
    infer_model $other $dir{$other};
_EOC_

# /slow/v1: every embedding a 504, the package's retries counted; its
# [error]s ("did not answer in time") go to a log of their own
my $config = <<"_EOC_";
        access_log $logs/clients.log clients;
        location /v1/ { infer_api openai; }
        location /v2 { infer_api kserve; }
        location /slow/v1/ {
            infer_api openai;
            infer_timeout 1ms;
            error_log $logs/slow.log;
        }
_EOC_

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => $http, config => $config),
   "nginx starts with $model and $other, 2 workers")
    or BAIL_OUT($InferTest::LastError);

# --- the clients ---------------------------------------------------------------

my @cmd = ($py, $script, '--port', nginx_port(), '--fixtures', $root,
           '--model', $model, '--other', $other,
           ($ENV{TEST_CLIENTS_PERTURB} ? '--perturb' : ()));
my ($n, $done, @noise) = (0);
{
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        $InferTest::InSubprocess = 1;
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    local $SIG{ALRM} = sub { kill 'KILL', $pid };
    alarm 90;
    while (my $l = <$out>) {
        my $r = $l =~ /^\{/ ? eval { $J->decode($l) } : undef;
        if (!$r) {
            push @noise, $l;
        } elsif (exists $r->{done}) {
            $done = $r;
        } else {
            $n++;
            local our $TODO = $r->{todo};
            ok($r->{ok}, $r->{name}) or diag($r->{diag});
        }
    }
    alarm 0;
    close $out;
}
is($?, 0, 'clients.py exits 0') or diag(@noise);
ok($done && $done->{done} == $n, "clients.py ran to the end ($n checks)")
    or diag(@noise);
diag(sprintf "%s: min cosine 1 - %.2g, max abs diff %.3g", $model,
             1 - $done->{worst_cosine}, $done->{worst_diff}) if $done;

# --- what nginx saw ------------------------------------------------------------

sub log_lines {
    my $f = shift;
    open my $in, '<', $f or return ();
    my @l = <$in>;
    close $in;
    return @l;
}

# the log phase may end just after the client has its answer: a last
# request of ours, then its line
http_request('GET', '/v2/health/live?last');
wait_until { grep { m{^GET /v2/health/live\?last } }
                  log_lines("$logs/clients.log") } 3;
my @acc = log_lines("$logs/clients.log");

ok((grep { m{^POST /v1/embeddings 200 ua="OpenAI/Python [^"]+"}
           && m{\\"encoding_format\\":\\"base64\\"} } @acc),
   'nginx read a body from OpenAI/Python with "encoding_format":"base64"')
    or diag(@acc[0 .. min($#acc, 4)]);
ok((grep { m{^POST /v2/models/$model/infer 200 ua="[^"]+" ihcl="\d+"} }
    @acc),
   'nginx answered a binary KServe request (Inference-Header-Content-Length)'
   . ' from tritonclient');
my @five = grep { / 5\d\d ua=/ && !m{^POST /slow/v1/embeddings 504 } } @acc;
is(scalar @five, 0, 'no 5xx but /slow/v1\'s') or diag(@five);

my @slow = grep { m{^POST /slow/v1/embeddings 504 } } @acc;
my @late = grep { /\[error\] .*did not answer in time/ }
                log_lines("$logs/slow.log");
is(scalar @slow, 3, '/slow/v1: 3 requests answered 504 (one retried once)');
is(scalar @late, 3, '/slow/v1: 3 "did not answer in time" in its own log');

my @alerts = grep { /\[(alert|crit|emerg|error)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [error], [crit] or [alert] in the error log')
    or diag(@alerts[0 .. min($#alerts, 9)]);

stop_nginx();
done_testing();
