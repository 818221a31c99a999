#!/usr/bin/env perl
# The tokenizer's unit cases and its parity with Hugging Face's tokenizers
# on all-MiniLM-L6-v2's tokenizer.json (t/fixtures/tokenizer, written by
# t/lib/gen_tokenizer_corpus.py), built by `make unit`; its TAP goes
# straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_tokenizer';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
