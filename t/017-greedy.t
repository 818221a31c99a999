#!/usr/bin/env perl
# SmolLM2-135M-Instruct's greedy generations through the generation loop
# (kernels/infer_gen.c) against llama.cpp's (t/lib/gen_greedy.py,
# t/fixtures/greedy): on the GGUF dequantized to F32, each prompt's first
# 32 tokens, or up to its end of generation or near tie, and the first
# step's logits; batched and preempted, the tokens of each prompt alone;
# on the Q4_1 GGUF, where ours and llama.cpp's part (a diagnostic) and
# batched, alone's bits; built by `make unit`.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_greedy';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/greedy';
-f "$fix/manifest.json"
    or do { print "1..0 # SKIP no $fix/manifest.json (make fixtures: "
                  . "it builds llama.cpp)\n";
            exit 0 };
exec $bin, $fix or die "exec $bin: $!";
