package Test::Nginx::Socket;

# The project's own small Test::Nginx::Socket: the data format and the
# behaviour of OpenResty's Test::Nginx::Socket (test-nginx on CPAN, not
# packaged by Debian), built on Debian's Test::Base, so the same .t files
# run under either.  See the POD at the end for what is supported.

use strict;
use warnings;

use Test::Base ();
use Test::More ();
use List::Util qw(shuffle min);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use File::Path qw(make_path);
use InferTest ();

our $VERSION = '0.29-infer';

# The test file's "use Test::Nginx::Socket 'no_plan';" goes through
# Test::Base's import (plan, Test::More functions, the __DATA__ spec) and
# Spiffy exports @EXPORT of every class in the hierarchy.
our @ISA = ('Test::Base');

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test
    repeat_each config_preamble worker_connections
    master_process_enabled
    no_long_string workers master_on master_off
    log_level no_shuffle no_root_location use_hup
    server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check
);

our $RepeatEach           = 1;
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString         = 0;
our $NoRootLocation       = 0;
our $ConfigPreamble       = '';
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our (@EnvToNginx, @BlockPreprocessors, @ResponseBodyChecks, @CleanupHandlers);
our ($PrevConfig, $PrevBlock);
our $ErrLogFilePos = 0;
our $TotalConnectingTimeouts = 0;

# --- settings (called before run_tests) -----------------------------------

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)     { if (@_) { $Workers = shift } else { $Workers } }
sub worker_connections (@) {
    if (@_) { $WorkerConnections = shift } else { $WorkerConnections }
}
sub log_level (@)   { if (@_) { $LogLevel = shift } else { $LogLevel } }
sub master_on ()    { $MasterProcessEnabled = 'on' }
sub master_off ()   { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = shift() ? 'on' : 'off' }
    else    { $MasterProcessEnabled }
}
sub no_shuffle ()       { $NoShuffle = 1 }
sub no_long_string ()   { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub use_hup () {
    warn "WARNING: use_hup() is not supported by this Test::Nginx::Socket;"
         . " nginx is restarted for every block\n";
}

sub timeout (@) {
    if (@_) { $InferTest::Timeout = shift } else { $InferTest::Timeout }
}

sub server_name (@) {
    if (@_) { $InferTest::ServerName = shift } else { $InferTest::ServerName }
}

sub server_addr (@) {
    if (@_) { $InferTest::ServerAddr = shift } else { $InferTest::ServerAddr }
}

sub server_port (@) {
    if (@_) {
        $InferTest::Port = $InferTest::ClientPort = shift;
        $ENV{TEST_NGINX_SERVER_PORT} = $InferTest::Port;
    }
    return $InferTest::Port;
}

sub server_port_for_client (@) {
    if (@_) { $InferTest::ClientPort = shift } else { $InferTest::ClientPort }
}

sub server_root () { $InferTest::ServRoot }
sub html_dir ()    { $InferTest::HtmlDir }

sub env_to_nginx (@) {
    Carp::croak('env_to_nginx: no arguments specified') unless @_;
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v\n")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub add_cleanup_handler ($)     { unshift @CleanupHandlers, shift }

sub cleanup () {
    $_->() for @CleanupHandlers;
    @CleanupHandlers = ();
}

sub bail_out (@) {
    cleanup();
    InferTest::stop_nginx() unless $ENV{TEST_NGINX_NO_CLEAN};
    Test::More::BAIL_OUT(join '', @_);
}

sub parse_time ($) {
    my $tm = shift;
    return undef unless defined $tm && length $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) { return $tm / 1000 }
    $tm =~ s/([^_a-zA-Z])s$/$1/;
    return $tm;
}

# String comparison that honours no_long_string() and Regexp refs.  Without
# Test::LongString, long mismatches are reported around the first
# difference instead of dumping both strings.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString || !defined $got || !defined $expected
        || (length($got) < 200 && length($expected) < 200))
    {
        return Test::More::is($got, $expected, $desc);
    }
    return 1 if Test::More::ok($got eq $expected, $desc);
    my $i = 0;
    my $n = min(length $got, length $expected);
    $i++ while $i < $n && substr($got, $i, 1) eq substr($expected, $i, 1);
    my $from = $i > 20 ? $i - 20 : 0;
    my $show = sub {
        my $s = substr($_[0], $from, 60);
        $s =~ s/([^\x20-\x7e])/sprintf '\\x{%02x}', ord $1/ge;
        return qq{"$s"};
    };
    Test::More::diag(sprintf "strings differ at offset %d (lengths: got %d,"
                     . " expected %d)\n  got:      %s\n  expected: %s",
                     $i, length $got, length $expected,
                     $show->($got), $show->($expected));
    return 0;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    $str;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    $s;
}

# --- the run ---------------------------------------------------------------

sub run_tests () {
    $ENV{TEST_NGINX_SERVER_PORT} //= $InferTest::Port;
    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }
    cleanup();
}

sub _should_skip {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $se = $block->skip_eval)) {
        if ($se =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $r = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
            return ($n, 'skip_eval') if $r;
        } else {
            bail_out("$name - Invalid --- skip_eval spec: $se");
        }
    }
    if (defined(my $sn = $block->skip_nginx)) {
        if ($sn =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            my ($n, $op) = ($1, $2);
            my $reason = $6 || "nginx version $op $3.$4.$5";
            my $want = sprintf "%d.%03d%03d", $3, $4, $5;
            my $have = InferTest::nginx_version();
            return ($n, $reason) if eval "$have $op $want";
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $sn");
        }
    }
    return;
}

sub _nginx_options {
    my ($block, $config) = @_;
    my $name = $block->name;
    return (
        config             => $config,
        http_config        => scalar($block->http_config),
        main_config        => scalar($block->main_config),
        post_main_config   => scalar($block->post_main_config),
        preamble           => $ConfigPreamble,
        workers            => $Workers,
        master             => $MasterProcessEnabled eq 'on' ? 1 : 0,
        log_level          => $block->log_level // $LogLevel,
        worker_connections => $WorkerConnections,
        env                => [@EnvToNginx],
        server_name        => scalar($block->server_name),
        root_location      => !$NoRootLocation,
        on_error           => sub { bail_out("$name - $_[0].") },
    );
}

sub _user_files {
    my ($block) = @_;
    my $files = $block->user_files;
    return [] unless $files;
    return $files if ref $files eq 'ARRAY';
    bail_out($block->name . ' - wrong value type: ' . ref($files)
             . ', only scalar or ARRAY are accepted') if ref $files;
    my @out;
    my ($fname, $body, $date);
    for my $line (split /^/m, $files) {
        if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
            push @out, [$fname, $body, $date] if defined $fname;
            ($fname, $date, $body) = ($1, $2, undef);
        } else {
            $body .= $line;
        }
    }
    push @out, [$fname, $body, $date] if defined $fname;
    for my $f (@out) {
        $f->[1] = InferTest::expand_env($f->[1],
                      sub { bail_out($block->name . " - $_[0].") });
    }
    return \@out;
}

sub _prepare_prefix {
    my ($block, $config) = @_;
    InferTest::stop_nginx();
    InferTest::setup_servroot();
    InferTest::write_user_files(_user_files($block));
    my $text = InferTest::nginx_conf_text(_nginx_options($block, $config));
    open my $out, '>', $InferTest::ConfFile
        or bail_out("cannot write $InferTest::ConfFile: $!");
    print $out $text;
    close $out;
}

sub run_test ($) {
    my ($block) = @_;
    return if defined $block->SKIP;
    my $name = $block->name;

    my ($nskip, $reason) = _should_skip($block);
    if (defined $nskip) {
        # as the real one: once per repeat, nginx not started
        for (1 .. $RepeatEach) {
            SKIP: { Test::More::skip("$name - $reason", $nskip) }
        }
        return;
    }

    my $config = $block->config;

    if (defined $block->must_die) {
        return run_must_die($block, $config // '');
    }

    my $dry_run = 0;
    my $start_err;

    if (!$NoNginxManager) {
        my $reuse = 0;
        if (!defined $config) {
            bail_out("$name - No '--- config' section specified and "
                     . "could not get previous one.")
                unless defined $PrevConfig;
            # reuse the running nginx, as the real one does (under
            # valgrind it was stopped: start it again with that config)
            $reuse = InferTest::nginx_running();
            $config = $PrevConfig;
        }
        if (!$reuse) {
            $PrevConfig = $config;
            warn "$name\n" if $UseValgrind;
            _prepare_prefix($block, $config);
            my $r;
            for my $try (1 .. 20) {
                $r = InferTest::launch_nginx();
                last if $r->{ok} || $r->{stderr} !~ /Address already in use/;
                sleep 0.25;
            }
            if (!$r->{ok}) {
                $dry_run = 'nginx failing to start';
                $start_err = "nginx failed to start (exit code "
                    . "$r->{exit_code}):\n$r->{stderr}";
            }
        }
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        InferTest::write_user_files(_user_files($block)) if $i > 0;
        run_test_helper($block, $dry_run, $i, $start_err);
    }

    # under valgrind, stop after every block so its report belongs to it
    if ($UseValgrind && !$NoNginxManager) {
        InferTest::stop_nginx();
    }
}

sub run_must_die {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $must_die = $block->must_die;
    local $InferTest::UseValgrind = undef;
    for my $i (0 .. $RepeatEach - 1) {
        _prepare_prefix($block, $config);
        my $r = InferTest::launch_nginx(expect_fail => 1);
        if ($r->{status} == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($r->{status} & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($r->{exit_code}, $must_die,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($r->{status}, 0, "$name - die as expected");
        }

        # error.log (start-up errors go there with -e) and nginx's stderr
        # ("nginx: [emerg] message"), so either form of a pattern matches
        $ErrLogFilePos = 0;
        my @lines = (@{ error_log_data() },
                     split /^/m, $r->{stderr} // '');
        check_error_log($block, undef, 0, $i, 0, \@lines);

        if ($r->{status} == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
            InferTest::stop_nginx();
        }
    }
    undef $PrevConfig;
}

# --- requests ----------------------------------------------------------------

sub parse_more_headers ($) {
    my ($in) = @_;
    my ($out, $is_chunked) = ('', 0);
    for my $h (split /\n+/, $in // '') {
        next if $h =~ /^\s*#/;
        next unless $h =~ /\S/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $is_chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $is_chunked);
}

# One request ("METHOD [URI [VERSION]]\nbody") given as packets: returns
# the packets of the request as sent, with the request line completed,
# Host, Connection, the more_headers and Content-Length added, as the
# real Test::Nginx does.
sub build_request {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;
    my $full = join '', map { $_->{value} } @$packets;
    my $nl = index $full, "\n";
    my $first = $nl < 0 ? $full : substr $full, 0, $nl + 1;
    my $content = $nl < 0 ? '' : substr $full, $nl + 1;
    if ($first !~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/) {
        bail_out("$name - Request line is not valid. Should be 'meth [url "
                 . "[version]]' but got \"$first\".");
    }
    my ($meth, $url, $ver) = ($2, $4 // '/', $6 // 'HTTP/1.1');

    my $lead = 0;
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/i)
    {
        ($lead) = map { length } $content =~ /^(\s*)/;
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }
    (my $mh = $more_headers) =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $InferTest::ServerName\r\n"
        if $mh !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n" if $mh !~ /(?:^|\n)Connection/msi;
    $headers .= "$mh$len_header\r\n";

    my $reqline = "$meth $url $ver";
    my $head = "$reqline\r\n$headers";
    my $new = $head . $content;
    return [{ value => $new }] if @$packets == 1;

    # keep the caller's packet boundaries where they fall
    my @out;
    my ($old_off, $new_off) = (0, 0);
    for my $p (@$packets) {
        $old_off += length $p->{value};
        my $b;
        if ($old_off >= length $full) {
            $b = length $new;
        } elsif ($old_off < length $first) {
            $b = min($old_off, length $reqline);
        } else {
            my $c = $old_off - length($first) - $lead;
            $c = 0 if $c < 0;
            $c = length $content if $c > length $content;
            $b = length($head) + $c;
        }
        $b = $new_off if $b < $new_off;
        push @out, { %$p, value => substr($new, $new_off, $b - $new_off) };
        $new_off = $b;
    }
    return \@out;
}

sub _packets {
    my ($name, $r) = @_;
    return [{ value => $r }] unless ref $r;
    bail_out("$name - Invalid syntax. $r should be a string or an array of packets.")
        unless ref $r eq 'ARRAY';
    return [ map {
        !ref $_ ? { value => $_ }
        : ref $_ eq 'HASH' ? {%$_}
        : bail_out("$name - Invalid syntax. $_ should be a string or hash with value.")
    } @$r ];
}

sub _strip_request {
    my ($r) = @_;
    1 while defined $r && $r =~ s/^\s*\#[^\n]+\s+|^\s+//s;
    return $r;
}

# Requests of a block: [{ packets => [...], head => bool }, ...]
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;
    my @reqs;

    my $more = $block->more_headers // '';
    my $hdr_for = sub {
        my $i = shift;
        my $h = ref $more eq 'ARRAY' ? $more->[$i] : $more;
        bail_out("--- more_headers lacks data for the request $i")
            unless defined $h;
        return parse_more_headers($h);
    };

    if (defined $block->raw_request) {
        push @reqs, { packets => _packets($name, $block->raw_request) };
    } elsif (my $pl = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $pl eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$pl) {
            my ($h, $ch) = $hdr_for->($i);
            my $conn = $i == $#$pl ? 'close' : 'keep-alive';
            my $p = build_request($name, $h, $ch, $conn,
                                  [{ value => _strip_request($pl->[$i]) }]);
            $all .= $p->[0]{value};
        }
        push @reqs, { packets => [{ value => $all }] };
    } else {
        my $request = $block->request;
        bail_out("$name - request empty") unless defined $request;
        my @list = ref $request eq 'ARRAY' ? @$request : ($request);
        for my $i (0 .. $#list) {
            my ($h, $ch) = $hdr_for->(ref $request eq 'ARRAY' ? $i : 0);
            my $one = $list[$i];
            $one = _strip_request($one) unless ref $one;
            push @reqs, { packets => build_request($name, $h, $ch, 'close',
                                                   _packets($name, $one)) };
        }
    }
    for my $r (@reqs) {
        my $s = join '', map { $_->{value} } @{ $r->{packets} };
        $r->{head} = $s =~ /^\s*HEAD\s+/ ? 1 : 0;
    }
    return \@reqs;
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value && ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    if (ref $value && ref $value eq 'ARRAY') {
        return $value->[0];
    }
    return $value;
}

sub run_test_helper ($$$;$) {
    my ($block, $dry_run, $repeated_req_idx, $start_err) = @_;
    my $name = $block->name;
    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $req (@$reqs) {
        my ($raw, $err) = ('', undef);
        if ($dry_run) {
            $raw = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw, $err) = InferTest::http_raw(
                $req->{packets}, timeout => $timeout,
                middle_delay => scalar($block->raw_request_middle_delay),
                shutdown => scalar($block->shutdown));
            if ($err && $err eq 'timeout') {
                if (!defined $block->abort) {
                    Test::More::fail("ERROR: client socket timed out - $name\n");
                } else {
                    sleep 0.005;
                }
            } elsif ($err) {
                if (!defined $raw) {
                    if (++$TotalConnectingTimeouts >= 3) {
                        bail_out("$name - $err (aborted)");
                    }
                    Test::More::fail("$name - $err (aborted)");
                }
                warn "WARNING: $name - $err\n" if defined $raw && !length $raw;
            }
        }
        $raw //= '';

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

      again:
        my $raw_headers = '';
        if (!defined $block->ignore_response) {
            $res = InferTest::parse_http_response($raw, $req->{head});
            $raw_headers = $res->{raw_headers};
            if ($res->{error} && $res->{error} ne 'no response' && !$dry_run) {
                Test::More::diag("$name - $res->{error}");
            }
        }
        my $left = $res ? $res->{left} : undef;
        if (!$n) {
            if (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}',ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }
        } else {
            $raw = $left // '';
            $n--;
        }

        if (!defined $block->ignore_response) {
            check_error_code($block, $res, $dry_run, $req_idx, $need_array, $start_err);
            check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
            check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
            check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array);
        }

        if ($n || $req_idx < @$reqs - 1) {
            sleep $block->wait if $block->wait;
            check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
            check_access_log($block, $dry_run, $repeated_req_idx)
                unless defined $block->ignore_response;
        }
        $req_idx++;
        goto again if $n;
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        unless defined $block->ignore_response;
}

# --- checks ------------------------------------------------------------------

sub check_error_code {
    my ($block, $res, $dry_run, $req_idx, $need_array, $start_err) = @_;
    my $name = $block->name;
    if ($start_err) {
        Test::More::fail("$name - status code ok");
        Test::More::diag($start_err);
        return;
    }
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        my $code = ($res && $res->{code}) || '';
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like,
                                        $req_idx, $need_array);
            Test::More::like($code, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($code, get_indexed_value($name, $block->error_code,
                                                    $req_idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
        SKIP: {
            Test::More::skip("$name - raw_response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
            my $e = get_indexed_value($name, $block->raw_response_headers_like,
                                      $req_idx, $need_array);
            Test::More::like($raw_headers, qr/$e/s, "$name - raw resp headers like");
        }
    }
    if (defined $block->raw_response_headers_unlike) {
        SKIP: {
            Test::More::skip("$name - raw_response_headers_unlike - tests skipped due to $dry_run", 1) if $dry_run;
            my $e = get_indexed_value($name, $block->raw_response_headers_unlike,
                                      $req_idx, $need_array);
            Test::More::unlike($raw_headers, qr/$e/s, "$name - raw resp headers unlike");
        }
    }
}

sub parse_headers ($) {
    my $s = shift;
    my %h;
    for (split /\n/, $s // '') {
        s/^\s+|\s+$//g;
        next unless length;
        if (s/^!\s*//) {
            $h{$_} = undef;
        } else {
            my ($k, $v) = split /\s*:\s*/, $_, 2;
            $h{$k} = $v;
        }
    }
    return \%h;
}

sub _subst_port {
    my $v = shift;
    return $v unless defined $v && !ref $v;
    $v =~ s/\$ServerPortForClient\b/$InferTest::ClientPort/g;
    $v =~ s/\$ServerPort\b/$InferTest::Port/g;
    return $v;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        my $h = parse_headers(get_indexed_value($name, $block->response_headers,
                                                $req_idx, $need_array));
        for my $key (sort keys %$h) {
            my $val = $h->{$key};
            if (!defined $val) {
                SKIP: {
                    Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                }
                next;
            }
            $val = _subst_port($val // '');
            my $actual = $res ? $res->header($key) : undef;
            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::is($actual // '', $val, "$name - header $key ok");
            }
        }
    } elsif (defined $block->response_headers_like) {
        my $h = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                $req_idx, $need_array));
        for my $key (sort keys %$h) {
            my $val = $h->{$key} // '';
            my $actual = $res ? $res->header($key) : undef;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual // '', qr/^$val$/, "$name - header $key like ok");
            }
        }
    }
}

sub check_response_body {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;

    if (defined $block->response_body) {
        my $expected = _subst_port(get_indexed_value($name, $block->response_body,
                                                     $req_idx, $need_array));
        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_req_idx, req $req_idx)");
            } else {
                is_str($content, $expected,
                    "$name - response_body - response is expected (repeated req $repeated_req_idx, req $req_idx)");
            }
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($pats, $type, $cmp) = defined $block->response_body_like
            ? ($block->response_body_like, 'like', \&Test::More::like)
            : ($block->response_body_unlike, 'unlike', \&Test::More::unlike);
        my $pat = _subst_port(get_indexed_value($name, $pats, $req_idx, $need_array));
        my $summary = trim($content) // '';
        $summary = substr($summary, 0, 200) . '...' if length $summary > 200;
        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due to $dry_run", 1) if $dry_run;
            $cmp->($content, ref $pat ? $pat : qr/$pat/s,
                   "$name - response_body_$type - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub error_log_data () {
    sleep $InferTest::Sleep * 3;
    open my $in, '<', $InferTest::ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $InferTest::Sleep * 3;
    open my $in, '<', $InferTest::AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub value_contains {
    my ($val, $pat) = @_;
    return $val =~ /\Q$pat\E/ if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for (@$val) { return 1 if value_contains($_, $pat) }
    }
    return undef;
}

sub _pats {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _match { my ($l, $p) = @_; ref $p ? $l =~ /$p/ : $l =~ /\Q$p\E/ }

sub check_error_log {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array, $given) = @_;
    my $name = $block->name;
    my $lines = $given;
    my %check = map { $_ => 1 } qw(alert crit emerg);

    if (defined(my $grep = $block->grep_error_log)) {
        my $gp = ref $grep eq 'ARRAY' ? $grep->[$repeated_req_idx] : $grep;
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$repeated_req_idx] if ref $expected eq 'ARRAY';
        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $out = '';
            for my $l (@$lines) {
                if (ref $gp ? $l =~ /$gp/ : $l =~ /\Q$gp\E/) {
                    $out .= "$&\n" if $& !~ /\n/;
                }
            }
            is_str($out, $expected, "$name - grep_error_log_out (req $repeated_req_idx)");
        }
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        for my $lvl (keys %check) {
            delete $check{$lvl} if value_contains($pats, "[$lvl");
        }
        $pats = _pats($pats);
        $lines ||= $dry_run ? [] : error_log_data();
        if ($section eq 'error_log') {
            for my $l (@$lines) {
                for my $p (@$pats) {
                    next unless defined $p && _match($l, $p);
                    SKIP: {
                        Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
                        Test::More::pass("$name - pattern \"$p\" matches a line in error.log (req $repeated_req_idx)");
                    }
                    undef $p;
                }
            }
            for my $p (grep { defined } @$pats) {
                SKIP: {
                    Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::fail("$name - pattern \"$p\" should match a line in error.log (req $repeated_req_idx)");
                }
            }
        } else {
            my %found;
            for my $i (0 .. $#$lines) {
                my $l = $lines->[$i];
                for my $p (@$pats) {
                    next unless defined $p && _match($l, $p);
                    $found{$p} = 1;
                    SKIP: {
                        Test::More::skip("$name - no_error_log - tests skipped due to $dry_run", 1) if $dry_run;
                        my @more = @$lines[$i + 1 .. min($i + 9, $#$lines)];
                        Test::More::fail("$name - pattern \"" . fmt_str($p)
                            . "\" should not match any line in error.log but matches line \""
                            . fmt_str($l) . "\" (req $repeated_req_idx)\n" . join '', @more);
                    }
                }
            }
            for my $p (@$pats) {
                next if !defined $p || $found{$p};
                SKIP: {
                    Test::More::skip("$name - no_error_log - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"" . fmt_str($p)
                        . "\" does not match a line in error.log (req $repeated_req_idx)");
                }
            }
        }
    }

    return if $dry_run;
    $lines ||= error_log_data() if %check;
    for my $l (@{ $lines || [] }) {
        for my $lvl (sort keys %check) {
            warn "WARNING: $name - " . fmt_str($l) . "\n" if $l =~ /\[$lvl\]/;
        }
        if ($l =~ /\bAssertion .*?failed\b/) {
            chomp(my $c = $l);
            Test::More::fail("$name - $c\n");
        }
    }
}

sub check_access_log {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $lines;
    if (defined(my $pats = $block->access_log)) {
        $pats = _pats($pats);
        $lines ||= access_log_data();
        for my $l (@$lines) {
            for my $p (@$pats) {
                next unless defined $p && _match($l, $p);
                SKIP: {
                    Test::More::skip("$name - access_log - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$p\" matches a line in access.log (req $repeated_req_idx)");
                }
                undef $p;
            }
        }
        for my $p (grep { defined } @$pats) {
            SKIP: {
                Test::More::skip("$name - access_log - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::fail("$name - pattern \"$p\" should match a line in access.log (req $repeated_req_idx)");
            }
        }
    }
    if (defined(my $pats = $block->no_access_log)) {
        $pats = _pats($pats);
        $lines ||= access_log_data();
        my %found;
        for my $l (@$lines) {
            for my $p (@$pats) {
                next unless defined $p && _match($l, $p);
                $found{$p} = 1;
                SKIP: {
                    Test::More::skip("$name - no_access_log - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::fail("$name - pattern \"" . fmt_str($p)
                        . "\" should not match any line in access.log but matches line \""
                        . fmt_str($l) . "\" (req $repeated_req_idx)");
                }
            }
        }
        for my $p (@$pats) {
            next if !defined $p || $found{$p};
            SKIP: {
                Test::More::skip("$name - no_access_log - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"" . fmt_str($p)
                    . "\" does not match a line in access.log (req $repeated_req_idx)");
            }
        }
    }
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - the ngx_infer subset of OpenResty's Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';   # or: plan tests => N after use

    repeat_each(2);
    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello
    --- no_error_log
    [error]

=head1 DESCRIPTION

Same data format and, for the supported subset, the same behaviour and the
same number of subtests per section as test-nginx 0.29, so the same files
run under the real one.  Every block starts a fresh nginx
(C<TEST_NGINX_BINARY>, default F</usr/sbin/nginx>) with the prefix
F<t/servroot> (C<TEST_NGINX_SERVROOT>) listening on 127.0.0.1:1984
(C<TEST_NGINX_SERVER_PORT>), stopping the previous one with QUIT first.

Functions: run_tests, repeat_each, workers, master_on, master_off,
master_process_enabled, log_level (default debug), no_shuffle (blocks are
shuffled otherwise), no_long_string, no_root_location, worker_connections,
config_preamble, env_to_nginx, add_block_preprocessor,
add_response_body_check (sub { my ($block, $body, $req_idx,
$repeated_req_idx, $dry_run) = @_ }), add_cleanup_handler, bail_out,
check_accum_error_log, no_nginx_manager, timeout, server_name,
server_addr, server_port, server_port_for_client, server_root, html_dir,
is_str, plus Test::Base's (blocks, plan, ...).

Sections: main_config, post_main_config, http_config, config,
server_name, init, user_files, request (string, eval, array of requests,
array of packets with {value, delay_before}), raw_request,
pipelined_requests, more_headers (string or array), raw_request_middle_delay,
error_code, error_code_like, response_body (string or eval qr//),
response_body_like, response_body_unlike, response_headers ("X: v" and
"!X"), response_headers_like, raw_response_headers_like,
raw_response_headers_unlike, error_log, no_error_log, grep_error_log,
grep_error_log_out, access_log, no_access_log, log_level, timeout (s or
ms), abort, shutdown, wait, ignore_response, must_die (checks error.log
and nginx's stderr), skip_nginx, skip_eval, and Test::Base's ONLY, SKIP,
LAST.

Environment: TEST_NGINX_BINARY, TEST_NGINX_SERVER_PORT, TEST_NGINX_PORT,
TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT, TEST_NGINX_RANDOMIZE,
TEST_NGINX_TIMEOUT, TEST_NGINX_SLEEP, TEST_NGINX_LOG_LEVEL,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_NO_SHUFFLE, TEST_NGINX_NO_CLEAN,
TEST_NGINX_USE_VALGRIND, TEST_NGINX_LOAD_MODULES, TEST_NGINX_EVENT_TYPE,
TEST_NGINX_VERBOSE.  Every C<$TEST_NGINX_*> in the config sections and
user_files is replaced by that environment variable (an unknown one bails
out); C<$TEST_NGINX_RAND_PORT_N> by a free port.  TEST_NGINX_SERVER_PORT,
TEST_NGINX_SERVER_ROOT and TEST_NGINX_HTML_DIR are always set.

Differences from the real one: nginx is started with C<-e logs/error.log>
(nginx 1.19.5+) so that start-up errors land in the prefix (Debian's nginx
logs them to stderr only); its stderr is kept in F<logs/stderr.log>; when
nginx fails to start, the block's "status code ok" subtest fails with the
error and the others are skipped (the real one bails out); Debian's
absolute *_temp_path defaults are pointed into the prefix; HTTP/2, HTTP/3,
stap, check-leak, benchmark and HUP modes are not implemented.

=cut
