#!/usr/bin/env perl
# The ring through which an executor streams results to the worker that
# owns a request (kernels/infer_stream.h), across two processes: built by
# `make unit`; its TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_stream';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
