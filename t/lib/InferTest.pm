package InferTest;

# Helpers for tests that are not data-driven, and the machinery under the
# project's own Test::Nginx::Socket: one nginx per test file, started with
# its own prefix (t/servroot by default) on a loopback port, plus a plain
# HTTP/1.1 client over real TCP sockets.
#
# This module depends on nothing from Test::Nginx, so a .t file may use it
# next to the real OpenResty Test::Nginx::Socket as well as next to ours.
# It uses the same environment variables as Test::Nginx:
#
#   TEST_NGINX_BINARY        nginx to run (default /usr/sbin/nginx)
#   TEST_NGINX_SERVER_PORT   port to listen on (default 1984; also TEST_NGINX_PORT)
#   TEST_NGINX_SERVROOT      prefix (default t/servroot)
#   TEST_NGINX_RANDOMIZE     random free port and t/servroot_<port>
#   TEST_NGINX_TIMEOUT       client timeout in seconds (default 3)
#   TEST_NGINX_USE_VALGRIND  run nginx under valgrind (1, or valgrind options)
#   TEST_NGINX_NO_CLEAN      leave nginx running at exit
#   TEST_NGINX_VERBOSE       chatter on stderr

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak carp);
use Cwd ();
use File::Spec ();
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use IO::Select ();
use POSIX qw(:sys_wait_h);
use Errno qw(EAGAIN EWOULDBLOCK EINTR ECONNREFUSED);
use Time::HiRes qw(sleep time);
use Storable ();

our @EXPORT = qw(
    start_nginx stop_nginx restart_nginx reload_nginx nginx_check_config
    nginx_running master_pid worker_pids signal_master wait_until
    http_request http_raw parse_http_response parallel_clients
    access_log_lines error_log_lines error_log_mark
    nginx_prefix nginx_port nginx_conf_text
);

# Names the real Test::Nginx::Socket also exports are only on request.
our @EXPORT_OK = qw(html_dir server_root server_port expand_env);

our $Verbose    = $ENV{TEST_NGINX_VERBOSE};
our $Binary     = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $Port       = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ClientPort = $ENV{TEST_NGINX_CLIENT_PORT} || $Port;
our $Timeout    = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep      = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $Randomize  = $ENV{TEST_NGINX_RANDOMIZE};
our $ServRoot;

if ($Randomize) {
    $Port = _free_port() or die "InferTest: cannot find a free port\n";
    $ClientPort = $Port;
    $ServRoot = File::Spec->rel2abs("t/servroot_$Port");
} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
}
$ServRoot =~ s{/+$}{};

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/stderr.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_SERVROOT_DIR} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} ||= $HtmlDir;
$ENV{TEST_NGINX_SERVER_PORT} ||= $Port;

# Become a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER), so the
# daemonized nginx is re-parented to this process and reaped here rather
# than left a zombie by a PID 1 that does not reap (containers).
our $Subreaper = 0;
if ($^O eq 'linux') {
    local $SIG{__WARN__} = sub {};
    $Subreaper = eval {
        package main;
        require 'syscall.ph';
        syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0;
    } || 0;
}

our $ChildPid;          # valgrind mode: the nginx we forked (daemon off)
our %Current;           # options of the running nginx (for reload)
our $LastError;
our $InSubprocess = 0;
my $started_here = 0;

sub html_dir ()    { $HtmlDir }
sub server_root () { $ServRoot }
sub server_port () { $Port }
sub nginx_prefix   { $ServRoot }
sub nginx_port     { $Port }

sub _log { warn "InferTest: @_\n" if $Verbose }

sub _free_port {
    for (1 .. 1000) {
        my $p = 1985 + int rand 60000;
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $p, Proto => 'tcp',
                                      ReuseAddr => 1, Listen => 1);
        if ($s) { close $s; return $p }
    }
    return undef;
}

# --- nginx version -------------------------------------------------------

my $nginx_version;

# Canonical version number, 1.22.1 -> 1.022001, as the real Test::Nginx.
sub nginx_version {
    return $nginx_version if defined $nginx_version;
    my $out = `'$Binary' -V 2>&1`;
    if (defined $out && $out =~ m{nginx[^/]*/(\d+)\.(\d+)\.(\d+)}) {
        $nginx_version = sprintf "%d.%03d%03d", $1, $2, $3;
    } else {
        $nginx_version = 0;
    }
    return $nginx_version;
}

# --- processes -----------------------------------------------------------

# kill 0 is not enough: PID 1 of a container may not reap the daemonized
# master, which then stays a zombie that kill 0 still reports.
sub is_running {
    my $pid = shift;
    return 0 unless $pid && $pid =~ /^\d+$/;
    return 0 unless kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh>;
        close $fh;
        if (defined $stat && $stat =~ /\)\s+(\S)/) {
            return 0 if $1 eq 'Z' || $1 eq 'X';
        }
    }
    return 1;
}

sub _read_pid_file {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub master_pid { _read_pid_file() }

sub nginx_running {
    my $pid = _read_pid_file();
    return $pid && is_running($pid) ? $pid : 0;
}

sub _proc_children {
    my $ppid = shift;
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $p (readdir $dh) {
        next unless $p =~ /^\d+$/;
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh>;
        close $fh;
        next unless defined $stat;
        my $rp = rindex $stat, ')';
        next if $rp < 0;
        my @f = split ' ', substr($stat, $rp + 2);
        # $f[0] state, $f[1] ppid
        next unless defined $f[1] && $f[1] == $ppid;
        next if $f[0] eq 'Z' || $f[0] eq 'X';
        open my $cf, '<', "/proc/$p/cmdline" or next;
        my $cmd = do { local $/; <$cf> } // '';
        close $cf;
        $cmd =~ s/\0+/ /g;
        $cmd =~ s/\s+$//;
        push @kids, [$p, $cmd];
    }
    closedir $dh;
    return @kids;
}

# Worker pids of the running master (serving workers only, unless
# all => 1 also asks for the ones shutting down after a reload).
sub worker_pids {
    my %o = @_;
    my $master = $o{master} || master_pid() or return ();
    my @w;
    for my $k (_proc_children($master)) {
        my ($pid, $cmd) = @$k;
        # under valgrind /proc shows valgrind's command line, not the title
        # nginx sets: every child is taken for a worker (the tests start
        # no cache processes), one that is shutting down included
        if ($UseValgrind && $cmd =~ /valgrind/) {
            push @w, $pid;
            next;
        }
        next unless $cmd =~ /worker process/;
        next if !$o{all} && $cmd =~ /shutting down/;
        push @w, $pid;
    }
    return sort { $a <=> $b } @w;
}

sub signal_master {
    my $sig = shift;
    my $pid = master_pid() or croak "signal_master: no pid file $PidFile";
    return kill $sig, $pid;
}

sub wait_until (&;$$) {
    my ($code, $timeout, $step) = @_;
    $timeout //= 5;
    $step //= 0.02;
    my $deadline = time + $timeout;
    while (1) {
        my $r = $code->();
        return $r if $r;
        return undef if time > $deadline;
        sleep $step;
    }
}

sub _reap { waitpid($_[0], WNOHANG) if $Subreaper || ($ChildPid && $_[0] == $ChildPid) }

sub _kill_and_wait {
    my ($pid, $timeout) = @_;
    _reap($pid);
    return 1 unless is_running($pid);
    kill 'QUIT', $pid;
    my $deadline = time + $timeout;
    while (is_running($pid) && time < $deadline) {
        sleep 0.02;
    }
    _reap($pid);
    return 1 unless is_running($pid);
    warn "InferTest: nginx $pid did not quit in ${timeout}s, sending TERM\n";
    kill 'TERM', $pid;
    $deadline = time + 3;
    while (is_running($pid) && time < $deadline) {
        sleep 0.02;
    }
    _reap($pid);
    return 1 unless is_running($pid);
    warn "InferTest: killing nginx $pid\n";
    kill 'KILL', (getpgrp($pid) == $pid ? -$pid : $pid);
    sleep 0.05;
    _reap($pid);
    return !is_running($pid);
}

# Stop the nginx of this prefix (QUIT, waiting for it and its workers to be
# gone).  Returns true when nothing is left running.
sub stop_nginx {
    my %o = @_;
    my $timeout = $o{timeout} // ($UseValgrind ? 60 : 10);
    my $pid = _read_pid_file();
    my $ok = 1;
    if ($pid && is_running($pid)) {
        _log("stopping nginx $pid");
        my @workers = worker_pids(master => $pid, all => 1);
        $ok = _kill_and_wait($pid, $timeout);
        # the master waits for its workers, but be sure nothing lingers
        for my $w (@workers) {
            _kill_and_wait($w, 2) if is_running($w);
        }
    }
    if ($ChildPid) {
        if (is_running($ChildPid)) {
            $ok = _kill_and_wait($ChildPid, $timeout) && $ok;
        }
        wait_until { waitpid($ChildPid, WNOHANG) != 0 } 2;
        undef $ChildPid;
    }
    unlink $PidFile if -f $PidFile && !nginx_running();
    %Current = ();
    return $ok;
}

# --- configuration -------------------------------------------------------

# $TEST_NGINX_* in configuration text, as the real Test::Nginx does: any
# TEST_NGINX_ environment variable, and TEST_NGINX_RAND_PORT_<n> as a free
# port.  An unknown name calls $on_error (default: croak).
my %rand_ports;
sub expand_env {
    my ($text, $on_error) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $n = $1;
        my $v;
        if ($n =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $v = $rand_ports{$n} //= _free_port();
        } elsif (defined $ENV{$n}) {
            $v = $ENV{$n};
        } else {
            my $msg = "No environment $n defined";
            if ($on_error) { $on_error->($msg) } else { croak $msg }
            $v = '';
        }
        $v;
    }ge;
    return $text;
}

# Remove what a previous run left, as the real Test::Nginx does (only the
# directories it owns), and make conf/, html/, logs/.
sub setup_servroot {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $d;
        make_path($d) or die "InferTest: cannot mkdir $d: $!\n";
    }
    open my $out, '>', "$HtmlDir/index.html"
        or die "InferTest: cannot write $HtmlDir/index.html: $!\n";
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

# Files for html/ (or absolute paths): [[name, content, touch-date], ...]
sub write_user_files {
    my ($files) = @_;
    for my $f (@$files) {
        my ($name, $body, $date) = @$f;
        $body //= '';
        my $path = $name =~ m{^/} ? $name : "$HtmlDir/$name";
        if ($path =~ m{(.*)/}) { make_path($1) unless -d $1 }
        open my $out, '>', $path or die "InferTest: cannot write $path: $!\n";
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or die "InferTest: touch -t $date $path failed\n";
        }
    }
}

my @temp_dirs = qw(client_body proxy fastcgi uwsgi scgi);

# The nginx.conf of a test, in the real Test::Nginx layout.  Options:
#   config, http_config, main_config, post_main_config, preamble,
#   workers (1), master (0), log_level ('debug'), worker_connections (64),
#   env => [names], server_name, root_location (1), daemon (1),
#   event_type
sub nginx_conf_text {
    my %o = @_;
    my $on_error = $o{on_error};
    my $workers = $o{workers} // 1;
    my $master = $o{master} ? 'on' : 'off';
    my $daemon = $o{daemon} // 1;
    $daemon = 0 if $UseValgrind;
    my $daemon_str = $daemon ? 'on' : 'off';
    my $level = $o{log_level} // $ENV{TEST_NGINX_LOG_LEVEL} // 'debug';
    my $wc = $o{worker_connections} // 64;
    my $server_name = $o{server_name} // $ServerName;
    my $config = expand_env($o{config} // '', $on_error);
    my $http_config = expand_env($o{http_config} // '', $on_error);
    my $main_config = expand_env($o{main_config} // '', $on_error);
    my $post_main = expand_env($o{post_main_config} // '', $on_error);
    my $preamble = expand_env($o{preamble} // '', $on_error);

    if (my $mods = $ENV{TEST_NGINX_LOAD_MODULES}) {
        $main_config = join('', map { "load_module $_;\n" }
                                grep { length } split /\s+/, $mods)
                       . $main_config;
    }

    my $env = '';
    for my $v (qw(LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS UBSAN_OPTIONS
                  LSAN_OPTIONS), @{ $o{env} || [] }) {
        my $x = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $x;\n";
    }

    # Debian's nginx has absolute temp paths under /var/lib/nginx; keep
    # every file of the test inside the prefix, unless the test sets one.
    my $temps = '';
    for my $t (@temp_dirs) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temps .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $user = $> == 0 ? "user root;\n" : '';
    my $events_use = $o{event_type} // $ENV{TEST_NGINX_EVENT_TYPE};
    $events_use = $events_use ? "    use $events_use;\n" : '';
    my $root_loc = ($o{root_location} // 1)
        ? "        location / {\n            root $HtmlDir;\n"
          . "            index index.html index.htm;\n        }\n"
        : '';
    my $listen = "$ServerAddr:$Port";
    (my $qname = $server_name) =~ s/'/\\'/g;

    return <<"_EOC_";
daemon $daemon_str;
master_process $master;
worker_processes $workers;
error_log $ErrLogFile $level;
pid $PidFile;
$user$env
$main_config

events {
    accept_mutex off;
    worker_connections $wc;
$events_use}

http {
    access_log $AccLogFile;
    default_type text/plain;
    keepalive_timeout 68;
$temps
$http_config

    server {
        listen $listen;
        server_name '$qname';
        client_max_body_size 30M;

        # Begin preamble config...
$preamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_loc    }
}

$post_main
_EOC_
}

sub _write_file {
    my ($path, $text) = @_;
    open my $out, '>', $path or die "InferTest: cannot write $path: $!\n";
    print $out $text;
    close $out;
}

sub _slurp {
    my ($path, $offset) = @_;
    open my $in, '<', $path or return undef;
    binmode $in;
    seek $in, $offset, 0 if $offset;
    local $/;
    my $d = <$in>;
    close $in;
    return $d // '';
}

sub _nginx_cmd {
    my @cmd = ($Binary, '-p', "$ServRoot/", '-c', $ConfFile);
    # 1.19.5+: log start-up errors into the prefix, not the built-in path
    push @cmd, '-e', $ErrLogFile if nginx_version() >= 1.019005;
    return @cmd;
}

sub _valgrind_cmd {
    my $opts = $UseValgrind;
    my @v = ('valgrind', '-q', '--num-callers=100');
    if ($opts =~ /^\d+$/) {
        push @v, qw(--tool=memcheck --leak-check=full --show-possibly-lost=no
                    --gen-suppressions=all);
    } else {
        push @v, split ' ', $opts;
    }
    push @v, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    return @v;
}

# Start nginx from the conf file already written.  Returns a hash:
#   ok, status (wait status), exit_code, stderr (text)
sub launch_nginx {
    my %o = @_;
    my $expect_fail = $o{expect_fail};
    unlink $StderrFile;

    if ($UseValgrind && !$expect_fail) {
        my $pid = fork // die "InferTest: fork: $!\n";
        if ($pid == 0) {
            $InSubprocess = 1;
            setpgrp(0, 0);
            open STDOUT, '>', '/dev/null';
            exec(_valgrind_cmd(), _nginx_cmd())
                or POSIX::_exit(127);
        }
        $ChildPid = $pid;
        my $up = wait_until { _read_pid_file() || waitpid($pid, WNOHANG) == $pid } 60;
        if (!is_running($pid)) {
            my $st = $?;
            undef $ChildPid;
            return { ok => 0, status => $st, exit_code => $st >> 8,
                     stderr => _slurp($StderrFile) // _slurp($ErrLogFile) // '' };
        }
        # the pid file comes before the listening socket is used; give
        # valgrind a moment more
        sleep 0.3;
        $started_here = 1;
        return { ok => 1, status => 0, exit_code => 0, stderr => '' };
    }

    my $pid = fork // die "InferTest: fork: $!\n";
    if ($pid == 0) {
        $InSubprocess = 1;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec(_nginx_cmd()) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $st = $?;
    my $stderr = _slurp($StderrFile) // '';
    if ($st != 0) {
        return { ok => 0, status => $st, exit_code => $st >> 8,
                 stderr => $stderr };
    }
    # daemon on: the parent exits after the fork, the pid file follows
    if (!wait_until { _read_pid_file() } 10) {
        return { ok => 0, status => $st, exit_code => 0,
                 stderr => $stderr . "no pid file $PidFile after start\n" };
    }
    $started_here = 1;
    return { ok => 1, status => 0, exit_code => 0, stderr => $stderr };
}

# start_nginx(%opts): stop what runs in the prefix, write a fresh prefix
# and conf (options of nginx_conf_text, or conf => full nginx.conf text,
# plus user_files => [[name, content]]), start it, and wait for it.
# Returns true, or false with the reason in $InferTest::LastError.
sub start_nginx {
    my %o = @_;
    stop_nginx();
    setup_servroot();
    write_user_files($o{user_files}) if $o{user_files};
    my $text = defined $o{conf} ? expand_env($o{conf}) : nginx_conf_text(%o);
    _write_file($ConfFile, $text);
    my $r;
    for my $try (1 .. 20) {
        $r = launch_nginx();
        last if $r->{ok};
        # a port still held by something else: wait a little
        last unless $r->{stderr} =~ /Address already in use/;
        sleep 0.25;
    }
    if (!$r->{ok}) {
        $LastError = "nginx failed to start (status $r->{status}): $r->{stderr}";
        return 0;
    }
    %Current = (%o, workers => $o{workers} // 1);
    return 1;
}

sub restart_nginx {
    my %o = (%Current, @_);
    return start_nginx(%o);
}

# reload_nginx(%opts): optionally rewrite the conf (options merged over the
# running ones), send HUP to the master, and wait until the configured
# number of new workers serve and none of the old ones does.  Returns the
# new worker pids (empty list on failure, reason in $LastError).
sub reload_nginx {
    my %o = @_;
    my $timeout = delete $o{timeout} // ($UseValgrind ? 60 : 10);
    my $master = nginx_running() or do {
        $LastError = 'reload_nginx: nginx is not running';
        return;
    };
    my %new = (%Current, %o);
    croak 'reload_nginx needs master => 1' unless $new{master};
    if (%o) {
        my $text = defined $new{conf} ? expand_env($new{conf})
                                      : nginx_conf_text(%new);
        _write_file($ConfFile, $text);
    }
    my $want = $new{workers} // 1;
    my %old = map { $_ => 1 } worker_pids(master => $master);
    my $mark = error_log_mark();
    kill 'HUP', $master or do {
        $LastError = "reload_nginx: kill HUP $master: $!";
        return;
    };
    my @new;
    my $ok = wait_until {
        @new = worker_pids(master => $master);
        @new == $want && !grep { $old{$_} } @new;
    } $timeout;
    if (!$ok) {
        my $log = join '', grep { /\[(?:emerg|alert|crit)\]/ }
                                error_log_lines($mark);
        $LastError = "reload_nginx: new workers not up after ${timeout}s"
                     . ($log ? ": $log" : '');
        return;
    }
    %Current = %new;
    return @new;
}

# nginx -t on a conf text or file.  Options: conf => text, or
# file => path; prefix => dir (default the test prefix); globals => '-g'.
# Returns (ok, output).
sub nginx_check_config {
    my %o = @_;
    my $prefix = $o{prefix} // $ServRoot;
    make_path("$prefix/logs", "$prefix/conf") unless -d "$prefix/logs" && -d "$prefix/conf";
    my $file = $o{file};
    if (!defined $file) {
        $file = "$prefix/conf/nginx-check.conf";
        _write_file($file, defined $o{conf} ? expand_env($o{conf})
                                            : nginx_conf_text(%o));
    }
    $file = File::Spec->rel2abs($file);
    my @cmd = ($Binary, '-t', '-p', "$prefix/", '-c', $file);
    push @cmd, '-e', "$prefix/logs/error.log" if nginx_version() >= 1.019005;
    push @cmd, '-g', $o{globals} if defined $o{globals};
    my $out = "$prefix/logs/check.out";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $InSubprocess = 1;
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $st = $?;
    return ($st == 0 ? 1 : 0, _slurp($out) // '');
}

# --- logs ----------------------------------------------------------------

sub error_log_mark { -s $ErrLogFile || 0 }

# Lines of error.log, after a mark from error_log_mark() if given.
sub error_log_lines {
    my ($mark) = @_;
    sleep $Sleep * 3;
    my $d = _slurp($ErrLogFile, $mark || 0);
    return () unless defined $d;
    return split /^/m, $d;
}

sub access_log_lines {
    sleep $Sleep * 3;
    my $d = _slurp($AccLogFile);
    return () unless defined $d;
    return map { chomp; $_ } split /^/m, $d;
}

# --- HTTP client ---------------------------------------------------------

# Send packets (strings, or {value => .., delay_before => secs}) over one
# TCP connection, read until the server closes.  Options: timeout (idle,
# per I/O event), middle_delay, shutdown (how, after the last byte),
# port, addr, connect_retry (seconds).  Returns (raw_response, error) where error is undef,
# 'timeout', or a message.
sub http_raw {
    my ($packets, %o) = @_;
    $packets = [$packets] unless ref $packets eq 'ARRAY';
    my @bits = map { ref $_ ? {%$_} : { value => $_ } } @$packets;
    my $timeout = $o{timeout} // $Timeout;
    my $addr = $o{addr} // $ServerAddr;
    my $port = $o{port} // $ClientPort;

    local $SIG{PIPE} = 'IGNORE';

    # a refused connection is retried for connect_retry seconds (3, or 30
    # under valgrind; 0: no retry)
    my $retry = $o{connect_retry} // ($UseValgrind ? 30 : 3);
    my $deadline = time + $retry;
    my ($sock, $err);
    for (my $try = 1; ; $try++) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        $err = "$!";
        last if $err !~ /refused|timed out|unavailable/i || time >= $deadline;
        my $wait = 0.02 * $try;
        sleep($wait > 0.5 ? 0.5 : $wait);
    }
    return (undef, "connect to $addr:$port failed: $err") unless $sock;
    $sock->blocking(0);

    my $resp = '';
    my $cur = shift @bits;
    my $off = 0;
    my $writing = 1;
    undef $err;
    my $rsel = IO::Select->new($sock);

    while (1) {
        my $wsel = $writing ? IO::Select->new($sock) : undef;
        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $timeout);
        if (!$r && !$w) {
            next if $!{EINTR};
            $err = 'timeout';
            last;
        }
        if ($w && @$w && $writing) {
            while (1) {
                my $left = length($cur->{value}) - $off;
                if ($left > 0) {
                    my $n = syswrite($sock, $cur->{value}, $left, $off);
                    if (!defined $n) {
                        last if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                        # the server may answer and close before the body
                        # is all sent (413, 400): keep reading
                        $writing = 0;
                        last;
                    }
                    $off += $n;
                    next;
                }
                $cur = shift @bits;
                $off = 0;
                if (!$cur) {
                    $writing = 0;
                    if (defined $o{shutdown}) {
                        my $how = $o{shutdown} =~ /^\d+$/ ? $o{shutdown} : 1;
                        shutdown($sock, $how);
                    }
                    last;
                }
                my $delay = $cur->{delay_before} // $o{middle_delay};
                sleep $delay if $delay;
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 65536);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                $err = "read failed: $!" unless length $resp;
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }
    close $sock;
    return ($resp, $err);
}

# Parse one HTTP/1.x response from the start of $raw.  Returns a hash:
#   code, status_line, protocol, headers ([[name, value], ...]),
#   raw_headers, content, left (bytes after this response), error
sub parse_http_response {
    my ($raw, $is_head) = @_;
    my %r = (code => undef, headers => [], raw_headers => '',
             content => undef, left => undef);
    return { %r, error => 'no response' } if !defined $raw || $raw eq '';

    my $hend = index $raw, "\r\n\r\n";
    my $sep = 4;
    if ($hend < 0) {
        $hend = index $raw, "\n\n";
        $sep = 2;
    }
    if ($hend < 0) {
        return { %r, error => 'incomplete response header',
                 raw_headers => $raw };
    }
    my $head = substr $raw, 0, $hend;
    my $rest = substr $raw, $hend + $sep;
    $r{raw_headers} = substr($raw, 0, $hend + ($sep == 4 ? 2 : 1));

    my @lines = split /\r?\n/, $head;
    my $sl = shift @lines;
    if ($sl !~ m{^(HTTP/\d\.\d)\s+(\d{3})(?:\s+(.*))?$}) {
        return { %r, error => "bad status line: $sl" };
    }
    @r{qw(protocol code status_line)} = ($1, $2, $sl);
    for my $l (@lines) {
        if ($l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $r{headers} }, [$1, $2];
        }
    }
    my $res = bless \%r, 'InferTest::Response';
    my $te = $res->header('Transfer-Encoding');
    my $cl = $res->header('Content-Length');

    if ($is_head || $r{code} =~ /^1/ || $r{code} == 204 || $r{code} == 304) {
        $r{content} = '';
        $r{left} = $rest if length $rest;
    } elsif (defined $te && $te =~ /\bchunked\b/i) {
        my $body = '';
        my $pos = 0;
        while (1) {
            my $eol = index $rest, "\r\n", $pos;
            if ($eol < 0) { $r{error} = 'no last chunk found'; last }
            my $line = substr $rest, $pos, $eol - $pos;
            if ($line !~ /^\s*([0-9A-Fa-f]+)\s*(?:;.*)?$/) {
                $r{error} = "invalid chunk size line: $line";
                last;
            }
            my $size = hex $1;
            $pos = $eol + 2;
            if ($size == 0) {
                # optional trailers, then CRLF
                while (1) {
                    my $e = index $rest, "\r\n", $pos;
                    if ($e < 0) { $r{error} = 'incomplete last chunk'; last }
                    my $t = substr $rest, $pos, $e - $pos;
                    $pos = $e + 2;
                    last if $t eq '';
                }
                last;
            }
            if ($pos + $size + 2 > length $rest) {
                $r{error} = 'invalid chunked data (not enough octets for the data section)';
                $body .= substr $rest, $pos;
                $pos = length $rest;
                last;
            }
            $body .= substr $rest, $pos, $size;
            $pos += $size;
            if (substr($rest, $pos, 2) ne "\r\n") {
                $r{error} = 'invalid chunked data (expected CRLF)';
                last;
            }
            $pos += 2;
        }
        $r{content} = $body;
        $r{left} = substr $rest, $pos if $pos < length $rest;
    } elsif (defined $cl && $cl =~ /^\d+$/) {
        if (length $rest >= $cl) {
            $r{content} = substr $rest, 0, $cl;
            $r{left} = substr $rest, $cl if length $rest > $cl;
        } else {
            $r{content} = $rest;
            $r{error} = "response body truncated: $cl expected, got "
                        . length $rest;
        }
    } else {
        $r{content} = $rest;
    }
    return $res;
}

# http_request($method, $uri, $body, \%headers, %opts)
# One request on a fresh connection (Host: localhost, Connection: close,
# Content-Length when $body is defined and no Content-Length or
# Transfer-Encoding header is given).  Options: timeout, port, packets
# (split the body into this many writes), delay (seconds between them),
# connect_retry (seconds to retry a refused connection; 0 for none).
# List context: (status, \%headers, body) with lower-cased header names
# (repeated headers joined with ", "); status is undef on failure, with
# the reason in $InferTest::LastError.  Scalar context: a hash with
# status, headers, body, error, elapsed, raw.
sub http_request {
    my ($method, $uri, $body, $headers, %o) = @_;
    $headers ||= {};
    my %lc = map { lc($_) => 1 } keys %$headers;
    my $req = "$method $uri HTTP/1.1\r\n";
    $req .= "Host: $ServerName\r\n" unless $lc{host};
    $req .= "Connection: close\r\n" unless $lc{connection};
    for my $k (sort keys %$headers) {
        my $v = $headers->{$k};
        for my $one (ref $v eq 'ARRAY' ? @$v : ($v)) {
            $req .= "$k: $one\r\n";
        }
    }
    if (defined $body && !$lc{'content-length'} && !$lc{'transfer-encoding'}) {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }
    $req .= "\r\n";
    my @packets;
    if (defined $body && $o{packets} && $o{packets} > 1 && length $body) {
        my $n = $o{packets};
        my $sz = int((length($body) + $n - 1) / $n) || 1;
        push @packets, $req;
        for (my $i = 0; $i < length $body; $i += $sz) {
            push @packets, { value => substr($body, $i, $sz),
                             delay_before => $o{delay} // 0.01 };
        }
    } else {
        @packets = ($req . ($body // ''));
    }
    my $t0 = time;
    my ($raw, $err) = http_raw(\@packets, %o);
    my $elapsed = time - $t0;
    my %res = (raw => $raw, elapsed => $elapsed, error => $err,
               status => undef, headers => {}, body => undef);
    if (defined $raw && length $raw) {
        my $p = parse_http_response($raw, $method eq 'HEAD');
        $res{status} = $p->{code};
        $res{headers} = $p->header_hash;
        $res{body} = $p->{content};
        $res{error} = $p->{error} if $p->{error} && !$res{error};
        $res{error} = undef if $res{error} && $res{error} eq 'timeout'
                               && defined $p->{code} && !$p->{error};
    } else {
        $res{error} //= 'empty response';
    }
    $LastError = $res{error};
    return \%res unless wantarray;
    return ($res{status}, $res{headers}, $res{body});
}

# parallel_clients(clients => N, requests => M, request => CODE|ARRAY,
#                  timeout => secs, total_timeout => secs)
# Forks N clients; client c sends M requests one after the other, each
# given by request (an array [method, uri, body, \%headers] or a sub
# called as ($c, $i) returning such a list or array).  They all start at
# the same moment.  Returns an array of hashes sorted by client, seq:
#   client, seq, status, headers, body, error, elapsed, start, end
my $par_seq = 0;
sub parallel_clients {
    my %o = @_;
    my $nc = $o{clients} // 4;
    my $nr = $o{requests} // 1;
    my $spec = $o{request} or croak 'parallel_clients: no request';
    my $total = $o{total_timeout} // ($UseValgrind ? 600 : 120);
    my $dir = "$LogDir/parallel-$$-" . $par_seq++;
    make_path($dir);
    my $start_at = time + 0.05 + 0.005 * $nc;
    my %kids;
    for my $c (0 .. $nc - 1) {
        my $pid = fork // croak "parallel_clients: fork: $!";
        if ($pid == 0) {
            $InSubprocess = 1;
            my @res;
            my $now = time;
            sleep($start_at - $now) if $start_at > $now;
            for my $i (0 .. $nr - 1) {
                my @args = ref $spec eq 'CODE' ? $spec->($c, $i) : @$spec;
                @args = @{ $args[0] } if @args == 1 && ref $args[0] eq 'ARRAY';
                my $t0 = time;
                my $r = eval {
                    scalar http_request($args[0], $args[1], $args[2], $args[3],
                                        timeout => $o{timeout} // $Timeout)
                } || { error => "client died: $@" };
                delete $r->{raw} unless $o{keep_raw};
                push @res, { %$r, client => $c, seq => $i,
                             start => $t0, end => time };
            }
            Storable::nstore(\@res, "$dir/client-$c.sto");
            POSIX::_exit(0);
        }
        $kids{$pid} = $c;
    }
    my $deadline = time + $total;
    while (%kids && time < $deadline) {
        my $pid = waitpid(-1, WNOHANG);
        if ($pid > 0) { delete $kids{$pid}; next }
        sleep 0.01;
    }
    for my $pid (keys %kids) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    my @all;
    for my $c (0 .. $nc - 1) {
        my $f = "$dir/client-$c.sto";
        my $res = -f $f ? eval { Storable::retrieve($f) } : undef;
        if ($res) {
            push @all, @$res;
        } else {
            push @all, map { { client => $c, seq => $_, status => undef,
                               headers => {}, body => undef,
                               error => "client $c did not finish" } }
                           0 .. $nr - 1;
        }
    }
    remove_tree($dir) unless $ENV{TEST_NGINX_NO_CLEAN};
    return [sort { $a->{client} <=> $b->{client} || $a->{seq} <=> $b->{seq} }
                 @all];
}

END {
    return if $InSubprocess;
    return unless $started_here;
    local $?;
    if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
        stop_nginx();
    }
    if ($Randomize && $ServRoot =~ m{/t/servroot_\d+$} && !$ENV{TEST_NGINX_NO_CLEAN}) {
        remove_tree($ServRoot);
    }
}

package InferTest::Response;

# Header value by case-insensitive name; repeated headers joined by ", "
# as HTTP::Response does.
sub header {
    my ($self, $name) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $self->{headers} };
    return undef unless @v;
    return join ', ', @v;
}

sub header_hash {
    my ($self) = @_;
    my %h;
    for my $kv (@{ $self->{headers} }) {
        my $k = lc $kv->[0];
        $h{$k} = defined $h{$k} ? "$h{$k}, $kv->[1]" : $kv->[1];
    }
    return \%h;
}

sub code    { $_[0]{code} }
sub content { $_[0]{content} }

1;
