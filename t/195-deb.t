# The Debian package, installed and serving: `make deb` builds
# libnginx-mod-http-infer (debian/, nginx-dev's dh --with nginx), then a
# fresh Debian root of the host's release (debootstrap --variant=minbase,
# made once in build/debroot/ and copied for each run) gets it with
# `apt-get install ./libnginx-mod-http-infer_*.deb`, which pulls Debian's
# nginx and the libraries from the archive through the package's Depends
# (nginx-abi-*), as on a user's machine.  conf-examples/debian.conf goes
# to /etc/nginx/conf.d/infer.conf, the digits model to /srv/models/digits;
# that root's nginx (chroot) passes nginx -t, starts, answers a KServe v2
# inference over loopback with the reference's answer, reloads
# (nginx -s reload) and answers again, and stops.  Where the CUDA package
# was built, it is installed too, and the module finds its backend beside
# itself in /usr/lib/nginx/modules/ (the root has no NVIDIA toolkit, so
# the backend's cuBLAS is what is missing).
#
# Root and apt-get are needed (debootstrap, chroot); the archive too.
# About 2 minutes from nothing (make deb 90 s with the CUDA backend,
# debootstrap 30 s), 40 s once both are made.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use File::Path ();
use File::Copy ();
use Fcntl qw(:flock);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use InferTest;
use InferCheck;

plan skip_all => 'needs root (debootstrap, chroot, apt-get in the root)'
    if $> != 0;
plan skip_all => 'needs a Debian host (apt-get, dpkg, chroot)'
    unless -x '/usr/bin/apt-get' && -x '/usr/bin/dpkg' && -x '/usr/sbin/chroot';

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $port = nginx_port();
my $t0 = time;
my %took;

sub slurp { local (@ARGV, $/) = @_; <> }

sub spew {
    my ($f, $s) = @_;
    open my $fh, '>', $f or die "cannot write $f: $!";
    print $fh $s;
    close $fh or die "cannot write $f: $!";
}

# runs a command (a list, no shell), stdout and stderr together:
# (exit status, output)
sub run {
    my @cmd = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        exec @cmd or exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub sh { run('sh', '-c', @_) }

sub tail_of {
    my @l = split /\n/, $_[0] // '';
    splice @l, 0, @l - 30 if @l > 30;
    return join "\n", @l;
}

# --- make deb ------------------------------------------------------------------

my ($rc, $out) = run("make", "-C", $repo, "deb");
$took{'make deb'} = time - $t0;
is($rc, 0, 'make deb') or BAIL_OUT("make deb failed:\n" . tail_of($out));
like($out, qr/^lintian: no error or warning that debian\/\*\.lintian-overrides does not explain$/m,
     'make deb: lintian, every remaining tag overridden with its reason');

my ($ver) = slurp("$repo/debian/changelog") =~ /^\S+ \(([^)]+)\)/;
chomp(my $arch = `dpkg --print-architecture`);
my $deb = "$repo/build/deb/libnginx-mod-http-infer_${ver}_$arch.deb";
my $cuda_deb = "$repo/build/deb/libnginx-mod-http-infer-cuda_${ver}_$arch.deb";
ok(-f $deb, "build/deb/ holds libnginx-mod-http-infer_${ver}_$arch.deb");

# the ABI of the nginx it was built against, as nginx-dev states it
my ($abi) = slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
            =~ /^nginx:abi=(\S+)$/m;
like($abi // '', qr/^nginx-abi-\d/, "nginx-dev's ABI: " . ($abi // 'none'));
my ($depends) = (run("dpkg-deb", "-f", $deb, "Depends"))[1];
chomp $depends;
like($depends, qr/^\Q$abi\E, /, "Depends: $depends");
like($depends, qr/\blibopenblas0\b.*\blibpcre2-8-0\b.*\blibutf8proc2\b/,
     'Depends: the libraries of config\'s feature tests, from dpkg-shlibdeps');

my @files = sort map { (split ' ', $_, 6)[5] } grep { !/^d/ }
            split /\n/, (run("dpkg-deb", "-c", $deb))[1];
is_deeply(\@files,
          ['./usr/lib/nginx/modules/ngx_http_infer_module.so',
           './usr/share/doc/libnginx-mod-http-infer/changelog.gz',
           './usr/share/doc/libnginx-mod-http-infer/copyright',
           './usr/share/lintian/overrides/libnginx-mod-http-infer',
           './usr/share/nginx/modules-available/mod-http-infer.conf'],
          'the package\'s files') or diag(explain(\@files));

# --- a fresh Debian root -------------------------------------------------------

my ($rc_dbs) = sh('command -v debootstrap');
BAIL_OUT('no debootstrap after make deb (its deb-deps installs it as root)')
    if $rc_dbs;

my ($suite) = slurp('/etc/os-release') =~ /^VERSION_CODENAME=(\S+)$/m;
my $mirror = $ENV{TEST_DEB_MIRROR} || 'http://deb.debian.org/debian';
my $security = $ENV{TEST_DEB_SECURITY} || 'http://deb.debian.org/debian-security';
my $cache = "$repo/build/debroot";
my $base = "$cache/$suite";
File::Path::make_path("$cache/archives");

{
    open my $lock, '>', "$cache/.lock" or die "$cache/.lock: $!";
    flock $lock, LOCK_EX;
    if (!-e "$base/.complete") {
        my $t = time;
        File::Path::remove_tree("$base.tmp", $base);
        ($rc, $out) = run("debootstrap", "--variant=minbase", $suite, "$base.tmp", $mirror);
        is($rc, 0, "debootstrap --variant=minbase $suite")
            or BAIL_OUT("debootstrap failed:\n" . tail_of($out));
        # a default install's sources; no service starts in a chroot
        spew("$base.tmp/etc/apt/sources.list",
             "deb $mirror $suite main\n"
             . "deb $mirror $suite-updates main\n"
             . "deb $security $suite-security main\n");
        spew("$base.tmp/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n");
        chmod 0755, "$base.tmp/usr/sbin/policy-rc.d";
        spew("$base.tmp/.complete", "$suite $mirror\n");
        rename "$base.tmp", $base or die "rename $base.tmp: $!";
        $took{debootstrap} = time - $t;
    }
    flock $lock, LOCK_UN;
}

my $root = "$cache/root-$port";
File::Path::remove_tree($root);
($rc, $out) = run("cp", "-a", $base, $root);
is($rc, 0, 'a fresh copy of the Debian root') or BAIL_OUT($out);

END {
    if ($root && -d $root && !$ENV{TEST_NGINX_NO_CLEAN}) {
        # the master, if a failed test left it running
        if (open my $p, '<', "$root/run/nginx.pid") {
            my $pid = <$p> // '';
            kill 'QUIT', $1 if $pid =~ /^(\d+)/;
        }
        File::Path::remove_tree($root);
    }
}

sub in_root {
    my ($cmd) = @_;
    return run('chroot', $root, '/usr/bin/env', '-i',
               'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8',
               'DEBIAN_FRONTEND=noninteractive', 'sh', '-c', $cmd);
}

# --- apt-get install ./libnginx-mod-http-infer_*.deb -----------------------------

{
    my $t = time;
    sh("cp $cache/archives/*.deb $root/var/cache/apt/archives/ 2>/dev/null");
    File::Copy::copy($deb, "$root/root/") or die "copy $deb: $!";
    ($rc, $out) = in_root('cd /root && apt-get update -q'
                          . ' && apt-get install -y -q ./libnginx-mod-http-infer_*.deb');
    is($rc, 0, 'apt-get install ./libnginx-mod-http-infer_*.deb in the root')
        or diag(tail_of($out));
    # kept for the next run, which then downloads nothing
    sh("cp -u $root/var/cache/apt/archives/*.deb $cache/archives/");
    $took{'apt-get install'} = time - $t;
}

($rc, $out) = in_root(q{dpkg-query -W -f='${Status} ${Version} ${Provides}' nginx});
like($out, qr/^install ok installed \S+ .*\Q$abi\E/,
     "apt-get pulled Debian's nginx, which provides $abi") or diag($out);
($rc, $out) = in_root(q{dpkg-query -W -f='${Status}' libnginx-mod-http-infer});
is($out, 'install ok installed', 'libnginx-mod-http-infer is installed');

is(readlink("$root/etc/nginx/modules-enabled/50-mod-http-infer.conf"),
   '/usr/share/nginx/modules-available/mod-http-infer.conf',
   'postinst enabled the module in /etc/nginx/modules-enabled/');
is(slurp("$root/usr/share/nginx/modules-available/mod-http-infer.conf"),
   "load_module modules/ngx_http_infer_module.so;\n",
   'modules-available/mod-http-infer.conf loads the module');

# --- conf.d/infer.conf, the model ------------------------------------------------

File::Path::make_path("$root/srv/models");
($rc, $out) = run("cp", "-r", "$repo/models/digits", "$root/srv/models/");
is($rc, 0, 'the digits model in /srv/models/digits') or diag($out);

my $conf = slurp("$repo/conf-examples/debian.conf");
like($conf, qr/^\s*listen\s+8080;$/m, 'debian.conf listens on 8080');
# loopback and this test's port: the host's 8080 and 80 are shared
$conf =~ s{^(\s*listen\s+)8080;}{${1}127.0.0.1:$port;}m;
spew("$root/etc/nginx/conf.d/infer.conf", $conf);
unlink "$root/etc/nginx/sites-enabled/default";

($rc, $out) = in_root('nginx -t');
is($rc, 0, 'nginx -t') or diag($out);
like($out, qr{nginx: the configuration file /etc/nginx/nginx\.conf syntax is ok\n.*test is successful},
     'nginx -t: syntax is ok, test is successful');

# --- serve -------------------------------------------------------------------------

my ($req, $exp) = ref_kserve("$repo/models/digits", rows => 3, seed => 11,
                             dist => 'digits', name => 'digits',
                             version => '1');
# the README's example request, and the reference's outputs for its row
my $example = slurp("$repo/models/digits/example-request.json");
my $ex_out = ref_predict("$repo/models/digits",
                         [decode_json($example)->{inputs}[0]{data}])->[0];

sub master { my $p = eval { slurp("$root/run/nginx.pid") } // ''; $p =~ /^(\d+)/ ? $1 : 0 }

sub serves {
    my ($what) = @_;
    my ($st, undef, $b) = http_request('GET', '/v2/health/ready');
    is($st, 200, "$what: /v2/health/ready");
    ($st, undef, $b) = http_request('POST', '/v2/models/digits/infer', $req);
    is($st, 200, "$what: POST /v2/models/digits/infer");
    is(json_cmp($b, $exp), undef, "$what: the answer equals the reference")
        or diag($b);
    ($st, undef, $b) = http_request('POST', '/v2/models/digits/infer',
                                    $example);
    is($st, 200, "$what: the README's example request");
    is(json_cmp($b, { model_name => 'digits', model_version => '1',
                      outputs => [{ name => 'probabilities',
                                    datatype => 'FP32', shape => [1, 10],
                                    data => $ex_out }] }), undef,
       "$what: ... its answer equals the reference") or diag($b);
}

# its output in a file: the daemon keeps no pipe of ours open
($rc, $out) = in_root('nginx >/root/nginx-start.log 2>&1; rc=$?;'
                      . ' cat /root/nginx-start.log; exit $rc');
is($rc, 0, 'nginx starts in the root (Debian\'s nginx.conf, daemon)') or diag($out);
my $up = wait_until { my ($st) = http_request('GET', '/v2/health/ready');
                      ($st // 0) == 200 } 20;
ok($up, "it answers on 127.0.0.1:$port");
my $master = master();
ok($master, "master $master");
serves('started');

my @old = worker_pids(master => $master);
ok(@old >= 1, 'workers: ' . join(' ', @old));
($rc, $out) = in_root('nginx -s reload');
is($rc, 0, 'nginx -s reload') or diag($out);
my $new = wait_until { my %o = map { $_ => 1 } @old;
                       my @now = worker_pids(master => $master);
                       @now && !grep { $o{$_} } @now } 20;
ok($new, 'new workers after the reload: '
         . join(' ', worker_pids(master => $master)));
is(master(), $master, '... under the same master');
serves('reloaded');

($rc, $out) = in_root('nginx -s quit');
is($rc, 0, 'nginx -s quit') or diag($out);
my $gone = wait_until { waitpid($master, WNOHANG); !kill 0, $master } 20;
ok($gone, 'nginx stops');

my @bad = grep { /\[(alert|crit|emerg|error)\]/ }
          split /\n/, eval { slurp("$root/var/log/nginx/error.log") } // '';
is(scalar @bad, 0, 'no [error], [crit], [alert] or [emerg] in /var/log/nginx/error.log')
    or diag(join "\n", @bad);

# --- the CUDA package ----------------------------------------------------------------

SKIP: {
    skip 'no CUDA package (built where nvcc is)', 5 unless -f $cuda_deb;

    ($rc, $out) = in_root('readlink -f /usr/share/nginx/modules');
    is($out, "/usr/lib/nginx/modules\n",
       "nginx's modules/, /usr/share/nginx/modules, is /usr/lib/nginx/modules");

    # device=auto: the module looks for its backend beside itself, says why
    # it cannot use it, and the model runs on the CPU; "itself" is the path
    # nginx opened, modules/ under its prefix: /usr/share/nginx/modules, a
    # link to /usr/lib/nginx/modules
    spew("$root/etc/nginx/conf.d/probe.conf",
         "infer_model  probe  /srv/models/digits  device=auto;\n");
    ($rc, $out) = in_root('nginx -t');
    like($out, qr{\[warn\] .*model "probe": no usable GPU for device=auto \(dlopen\(\): /usr/share/nginx/modules/ngx_infer_cuda\.so: cannot open shared object file},
         'without the CUDA package: no ngx_infer_cuda.so beside the module')
        or diag($out);

    File::Copy::copy($cuda_deb, "$root/root/") or die "copy $cuda_deb: $!";
    ($rc, $out) = in_root('cd /root && apt-get install -y -q'
                          . ' ./libnginx-mod-http-infer-cuda_*.deb');
    is($rc, 0, 'apt-get install ./libnginx-mod-http-infer-cuda_*.deb')
        or diag(tail_of($out));
    ok(-f "$root/usr/lib/nginx/modules/ngx_infer_cuda.so",
       'ngx_infer_cuda.so in /usr/lib/nginx/modules/');

    # found and loaded there; what it lacks is NVIDIA's cuBLAS, which the
    # package does not depend on (not in Debian)
    ($rc, $out) = in_root('nginx -t');
    like($out, qr{\[warn\] .*model "probe": no usable GPU for device=auto \(dlopen\(\): libcublas\.so\.\d+: cannot open shared object file},
         'with it: the module loads the backend, which needs the CUDA toolkit\'s libcublas')
        or diag($out);
    unlink "$root/etc/nginx/conf.d/probe.conf";
}

$took{total} = time - $t0;
diag(join ', ', map { sprintf '%s %.0fs', $_, $took{$_} }
                grep { $took{$_} } 'make deb', 'debootstrap',
                'apt-get install', 'total');

done_testing();
