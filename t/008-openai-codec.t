#!/usr/bin/env perl
# The OpenAI codec's unit tests (every form of /v1/embeddings' input, every
# error with its status, param and code, answers in float and base64 read
# back exactly, errors and the model list as OpenAI shapes them), built by
# `make unit`.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_openai';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
