#!/usr/bin/env perl
# Generation on the paged KV cache (kernels/infer_gen.c): the random
# Llama models' prompts in chunks, one token a step, and joining a
# running batch in a cache small enough to preempt, each against the
# float64 reference of t/lib/gen_llama.py (t/fixtures/llama) and bit for
# bit against itself alone where the weights are quantized; SmolLM2's
# greedy generations alone and batched; built by `make unit`.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_gen';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/llama';
-f "$fix/manifest.json"
    or do { print "1..0 # SKIP no $fix/manifest.json (make fixtures)\n";
            exit 0 };
exec $bin, $fix or die "exec $bin: $!";
