#!/usr/bin/env perl
# The JSON machinery of the API codecs (kernels/infer_json.h) through its
# own API: objects, arrays, strings, numbers, errors, the writers; built by
# `make unit`; its TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_json';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
