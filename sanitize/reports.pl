#!/usr/bin/perl
# The verdict of `make test-asan` and `make test-valgrind` (sanitize/asan.mk).
#
#   sanitize/reports.pl asan DIR       every report file of ASan, LSan or
#                                      UBSan (DIR/asan.PID, DIR/ubsan.PID)
#                                      is a failure: print them all
#   sanitize/reports.pl valgrind DIR   valgrind's logs (DIR/vg.PID): an
#                                      invalid access, a use of
#                                      uninitialised memory or a definite
#                                      leak whose stack names the module
#                                      (ngx_http_infer*, ngx_infer*) or the
#                                      kernels (infer_*) is a failure; other
#                                      errors (nginx, OpenSSL, glibc) are
#                                      listed as notes
#
# Exit status 0: clean; 1: findings.

use strict;
use warnings;

my ($mode, $dir) = @ARGV;
die "usage: $0 asan|valgrind DIR\n"
    unless defined $dir && $mode =~ /^(?:asan|valgrind)$/;

my $ours = qr/\b(?:ngx_http_infer\w*|ngx_infer\w*|infer_\w+)|ngx_http_infer_module\.so|ngx_infer_cuda\.so|\bkernels\/|ngx_infer_module\//;

sub slurp {
    my ($f) = @_;
    open my $in, '<', $f or return '';
    local $/;
    my $d = <$in>;
    close $in;
    return $d // '';
}

if ($mode eq 'asan') {
    my @files = sort grep { -f && -s } glob("$dir/asan.* $dir/ubsan.*");
    if (!@files) {
        print "sanitizers: no ASan, LSan or UBSan report\n";
        exit 0;
    }
    my ($n, $mine) = (0, 0);
    for my $f (@files) {
        my $text = slurp($f);
        my @errs = $text =~ /^(?:==\d+==ERROR: .*|SUMMARY: .*|.*runtime error: .*)$/mg;
        $n += @errs;
        $mine++ if $text =~ $ours;
        print "==== $f\n$text\n";
    }
    printf "sanitizers: %d report file(s), %d naming the module or the "
           . "kernels: FAILED\n", scalar @files, $mine;
    exit 1;
}

# valgrind
my @files = sort grep { -f } glob("$dir/vg.*");
my $err_re = qr/^(?:Invalid (?:read|write|free)|Mismatched free|
                   Conditional\ jump\ or\ move\ depends\ on\ uninitialised|
                   Use\ of\ uninitialised|Syscall\ param\ .*uninitialised|
                   .*uninitialised\ byte|
                   Source\ and\ destination\ overlap|
                   Argument\ .*\ of\ function\ .*\ has\ a\ fishy|
                   .*\ are\ definitely\ lost\ in\ loss\ record|
                   Process\ terminating\ with\ default\ action)/x;
my (@fail, @note, %pids);
for my $f (@files) {
    my @blocks;
    my $cur = [];
    for my $line (split /\n/, slurp($f)) {
        next unless $line =~ s/^==(\d+)== ?//;
        $pids{$1} = 1;
        if ($line eq '') {
            push @blocks, $cur if @$cur;
            $cur = [];
        } else {
            push @$cur, $line;
        }
    }
    push @blocks, $cur if @$cur;
    for my $b (@blocks) {
        next unless $b->[0] =~ $err_re;
        # a signal (kill -9 of t/110-crash.t) is not an error of the code
        next if $b->[0] =~ /^Process terminating/ && $b->[0] !~ /SIGSEGV|SIGBUS|SIGILL|SIGFPE|SIGABRT/;
        my $text = join '', map { "    $_\n" } @$b;
        if ($b->[0] =~ /definitely lost|Invalid|uninitialised|overlap|fishy|Mismatched|Process terminating/
            && $text =~ $ours)
        {
            push @fail, "$f:\n$text";
        } else {
            push @note, "$f:\n$text";
        }
    }
}

printf "valgrind: %d log file(s), %d process(es)\n", scalar @files,
       scalar keys %pids;
if (@note) {
    printf "valgrind: %d error(s) outside the module (not counted):\n",
           scalar @note;
    print "$_\n" for @note;
}
if (@fail) {
    printf "valgrind: %d error(s) in the module or the kernels: FAILED\n",
           scalar @fail;
    print "$_\n" for @fail;
    exit 1;
}
print "valgrind: nothing attributed to the module or the kernels\n";
exit 0;
