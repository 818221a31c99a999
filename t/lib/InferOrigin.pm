package InferOrigin;

# A second nginx beside a test's own: the origin that an edge spills
# over to (error_page 503 = @origin; proxy_pass http://origin).  It is
# its own process, with its own prefix (the test's prefix and "_origin"),
# port, configuration and models' queues, as another machine would be;
# the same nginx binary and module.  Stopped when the test ends.
#
#   my $port = start_origin(http_config => '...', config => '...');
#   stop_origin();

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use InferTest ();

our @EXPORT = qw(start_origin stop_origin origin_port origin_error_log);

my ($Dir, $Port, $started);

sub origin_port { $Port }

sub _pid {
    open my $in, '<', "$Dir/logs/nginx.pid" or return undef;
    my $pid = <$in> // '';
    close $in;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub origin_error_log {
    open my $in, '<', "$Dir/logs/error.log" or return ();
    return <$in>;
}

# start_origin(http_config => text, config => text (the server block's),
# workers => n): the port it listens on, or undef with the reason in
# $InferTest::LastError
sub start_origin {
    my %o = @_;
    stop_origin();
    $Dir = InferTest::server_root() . '_origin';
    $Port = InferTest::_free_port() or die "InferOrigin: no free port\n";
    remove_tree($Dir);
    make_path("$Dir/logs", "$Dir/conf");

    my $mods = join '', map { "load_module $_;\n" }
                        grep { length } split /\s+/,
                        $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $user = $> == 0 ? "user root;\n" : '';
    my $temps = join '', map { "    ${_}_temp_path $Dir/${_}_temp;\n" }
                         qw(client_body proxy fastcgi uwsgi scgi);
    my $workers = $o{workers} // 1;
    my $http = InferTest::expand_env($o{http_config} // '');
    my $config = InferTest::expand_env($o{config} // '');

    open my $out, '>', "$Dir/conf/nginx.conf" or die "InferOrigin: $!\n";
    print $out <<"_EOC_";
${mods}daemon on;
master_process on;
worker_processes $workers;
error_log $Dir/logs/error.log info;
pid $Dir/logs/nginx.pid;
$user
events {
    worker_connections 256;
}

http {
    access_log $Dir/logs/access.log;
    default_type text/plain;
$temps
$http

    server {
        listen 127.0.0.1:$Port;
        server_name origin;
        client_max_body_size 30M;

$config
    }
}
_EOC_
    close $out;

    my $st = system($InferTest::Binary, '-p', "$Dir/", '-c',
                    "$Dir/conf/nginx.conf", '-e', "$Dir/logs/error.log");
    if ($st != 0) {
        $InferTest::LastError = "the origin did not start: "
                                . join '', grep { /emerg|alert/ }
                                           origin_error_log();
        return undef;
    }
    $started = 1;

    # up once it accepts connections (its workers have loaded the models)
    my $up = InferTest::wait_until {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $Port)
    } 30;
    if (!$up) {
        $InferTest::LastError = "the origin does not listen on $Port";
        return undef;
    }
    return $Port;
}

sub stop_origin {
    return unless $started;
    undef $started;
    my $pid = _pid() or return;
    kill 'QUIT', $pid;
    my $deadline = time + 10;
    while (InferTest::is_running($pid) && time < $deadline) {
        waitpid($pid, WNOHANG);
        sleep 0.02;
    }
    kill 'KILL', $pid if InferTest::is_running($pid);
    waitpid($pid, WNOHANG);
}

END {
    return if $InferTest::InSubprocess;
    local $?;
    stop_origin();
    remove_tree($Dir) if $Dir && !$ENV{TEST_NGINX_NO_CLEAN};
}

1;
