package InferCheck;

# Numeric comparison of JSON answers, and access to the model fixtures and
# the numpy reference (t/lib/gen_models.py, t/lib/ref.py).
#
#   use InferCheck;
#   add_response_body_check(expected_json_check());
#
# then in a block:
#
#   --- expected_json
#   {"model_name": "m", "outputs": [{"name": "y", "shape": [1, 2],
#    "datatype": "FP32", "data": [0.25, 0.75]}]}
#
# or "--- expected_json eval" with a Perl structure or a JSON string (an
# array of them when the block sends several requests).  Per block:
# "--- json_rtol: 1e-3", "--- json_atol: 1e-5", "--- json_ignore: id
# model_version" (keys ignored at any depth).
#
# Rules: objects must have the same keys, arrays the same length, strings,
# booleans and nulls must be equal, numbers under a "shape" key must be
# equal, other numbers must satisfy |got - expected| <= max(atol,
# rtol * |expected|) (defaults rtol 1e-4, atol 1e-6).  A number given as a
# string (or a string given as a number) is a mismatch.  The first mismatch
# is reported with its path, e.g. $.outputs[0].data[17].

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use B ();
use JSON::PP ();
use File::Spec ();
use File::Basename qw(dirname);
use Cwd ();
use Digest::SHA ();
use Fcntl qw(:flock);

our @EXPORT = qw(
    json_cmp json_close_ok expected_json_check
    ref_kserve ref_cases ref_predict
    ensure_fixtures fixtures_dir fixture_manifest fixture_model
    have_python_deps python_bin
);

our $RTOL = 1e-4;
our $ATOL = 1e-6;

my $LIB = dirname(File::Spec->rel2abs(__FILE__));
our $Python = $ENV{TEST_INFER_PYTHON} || 'python3';

my $json = JSON::PP->new->canonical(1)->allow_nonref(1);

sub python_bin { $Python }

sub _is_number {
    my ($v) = @_;
    return 0 if !defined $v || ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK() | B::SVp_NOK())) && !($f & B::SVp_POK()) ? 1 : 0;
}

sub _is_bool { ref $_[0] && JSON::PP::is_bool($_[0]) }

sub _type {
    my ($v) = @_;
    return 'null' unless defined $v;
    return 'boolean' if _is_bool($v);
    my $r = ref $v;
    return 'object' if $r eq 'HASH';
    return 'array' if $r eq 'ARRAY';
    return "perl $r" if $r;
    return _is_number($v) ? 'number' : 'string';
}

sub _show {
    my ($v) = @_;
    return 'null' unless defined $v;
    my $s = eval { $json->encode($v) } // "$v";
    $s = substr($s, 0, 77) . '...' if length $s > 80;
    return $s;
}

sub _cmp {
    my ($g, $e, $path, $o) = @_;
    my ($tg, $te) = (_type($g), _type($e));
    # a Perl expectation written as 0.5 is a number; one written as '0.5'
    # is a string: JSON decoded values keep the distinction
    if ($tg ne $te) {
        return "at $path: got $tg " . _show($g) . ", expected $te " . _show($e);
    }
    if ($te eq 'object') {
        my %ign = %{ $o->{ignore} };
        my @gk = sort grep { !$ign{$_} } keys %$g;
        my @ek = sort grep { !$ign{$_} } keys %$e;
        my %in_g = map { $_ => 1 } @gk;
        my %in_e = map { $_ => 1 } @ek;
        my @missing = grep { !$in_g{$_} } @ek;
        my @extra = grep { !$in_e{$_} } @gk;
        return "at $path: missing key" . (@missing > 1 ? 's ' : ' ')
               . join(', ', map { "\"$_\"" } @missing) if @missing;
        return "at $path: unexpected key" . (@extra > 1 ? 's ' : ' ')
               . join(', ', map { "\"$_\"" } @extra) if @extra;
        for my $k (@ek) {
            my $sub = $k =~ /^[A-Za-z_]\w*$/ ? "$path.$k" : "$path\[\"$k\"]";
            local $o->{exact} = $o->{exact} || $k eq 'shape';
            my $m = _cmp($g->{$k}, $e->{$k}, $sub, $o);
            return $m if $m;
        }
        return undef;
    }
    if ($te eq 'array') {
        if (@$g != @$e) {
            return "at $path: got an array of " . scalar(@$g)
                   . " elements, expected " . scalar(@$e);
        }
        for my $i (0 .. $#$e) {
            my $m = _cmp($g->[$i], $e->[$i], "$path\[$i]", $o);
            return $m if $m;
        }
        return undef;
    }
    if ($te eq 'number') {
        if ($o->{exact}) {
            return undef if $g == $e;
            return "at $path: got $g, expected exactly $e";
        }
        my $diff = abs($g - $e);
        my $tol = $o->{rtol} * abs($e);
        $tol = $o->{atol} if $tol < $o->{atol};
        return undef if $diff <= $tol;
        # NaN: every comparison is false
        return sprintf "at %s: got %.9g, expected %.9g (|diff| %.3g > "
                       . "tolerance %.3g: rtol %g, atol %g)",
                       $path, $g, $e, $diff, $tol, $o->{rtol}, $o->{atol};
    }
    if ($te eq 'boolean') {
        return undef if !!$g == !!$e;
        return "at $path: got " . _show($g) . ", expected " . _show($e);
    }
    if ($te eq 'null') {
        return undef;
    }
    return undef if $g eq $e;
    return "at $path: got " . _show($g) . ", expected " . _show($e);
}

# json_cmp($got, $expected, rtol => , atol => , ignore => [keys])
# $got and $expected are JSON texts or Perl structures (a plain string
# that does not parse as JSON is an error).  Returns undef when they
# match, else the first mismatch as a message.
sub json_cmp {
    my ($got, $exp, %o) = @_;
    my %opt = (rtol => $o{rtol} // $RTOL, atol => $o{atol} // $ATOL,
               ignore => { map { $_ => 1 } @{ $o{ignore} || [] } },
               exact => 0);
    for my $x (\$got, \$exp) {
        next if ref $$x;
        my $which = $x == \$got ? 'got' : 'expected';
        return "$which: no JSON (undef)" unless defined $$x;
        my $v = eval { JSON::PP->new->allow_nonref(1)->decode($$x) };
        if ($@) {
            (my $e = $@) =~ s/ at \S+ line \d+\.\n//;
            my $t = $$x;
            $t = substr($t, 0, 200) . '...' if length $t > 200;
            return "$which is not JSON ($e): $t";
        }
        $$x = $v;
    }
    return _cmp($got, $exp, '$', \%opt);
}

# A Test::More subtest: json_close_ok($got, $expected, $name, %opts)
sub json_close_ok {
    my ($got, $exp, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $m = json_cmp($got, $exp, %o);
    my $ok = Test::More::ok(!defined $m, $name);
    Test::More::diag($m) if defined $m;
    return $ok;
}

# For add_response_body_check: checks the --- expected_json section when
# the block has one (one subtest per response, skipped in dry runs).
sub expected_json_check {
    my %def = @_;
    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        my $exp = $block->expected_json;
        return unless defined $exp;
        my $name = $block->name;
        my $multi = (ref $block->request && ref $block->request eq 'ARRAY'
                     && @{ $block->request } > 1)
                    || $block->pipelined_requests;
        if ($multi) {
            Test::More::BAIL_OUT("$name - expected_json must be an array "
                                 . "for several requests")
                unless ref $exp eq 'ARRAY';
            $exp = $exp->[$req_idx];
        }
        my %o = %def;
        $o{rtol} = $block->json_rtol if defined $block->json_rtol;
        $o{atol} = $block->json_atol if defined $block->json_atol;
        if (defined(my $ig = $block->json_ignore)) {
            $o{ignore} = ref $ig ? $ig : [split ' ', $ig];
        }
        SKIP: {
            Test::More::skip("$name - expected_json - tests skipped due to $dry_run", 1)
                if $dry_run;
            local $Test::Builder::Level = $Test::Builder::Level + 1;
            json_close_ok($body, $exp,
                "$name - expected_json (repeated req $repeated_req_idx, req $req_idx)",
                %o);
        }
    };
}

# --- python side -----------------------------------------------------------

my $have_py;
sub have_python_deps {
    return $have_py if defined $have_py;
    # find_spec: importing scikit-learn alone takes a second
    my $out = `$Python -c "import numpy, safetensors, importlib.util as u; print('ok' if u.find_spec('sklearn') else 'no')" 2>/dev/null`;
    $have_py = (defined $out && $out =~ /ok/) ? 1 : 0;
    return $have_py;
}

sub _run_py {
    my (@args) = @_;
    my $cmd = join ' ', map { _shq($_) } $Python, @args;
    my $out = `$cmd`;
    croak "InferCheck: '$cmd' failed (status $?)" if $? != 0;
    return $out;
}

sub _shq {
    my $s = shift;
    return $s if $s =~ m{^[\w./=:,+-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

sub fixtures_dir {
    return $ENV{TEST_INFER_FIXTURES}
        || File::Spec->rel2abs(File::Spec->catdir($LIB, '..', 'fixtures'));
}

# Generate the fixtures (t/fixtures by default) unless the manifest there
# was made by the same gen_models.py.  Safe with prove -j (a lock).
# Returns the fixtures directory; sets $ENV{TEST_NGINX_FIXTURES} to it.
sub ensure_fixtures {
    my $dir = fixtures_dir();
    my $gen = "$LIB/gen_models.py";
    my $hash = Digest::SHA->new(256)->addfile($gen)->hexdigest;
    my $manifest = "$dir/manifest.json";
    my $current = sub {
        my $m = eval { _read_json($manifest) } or return 0;
        # made by this generator, for this place (the dirs are absolute)
        return ($m->{generator_sha256} // '') eq $hash
               && @{ $m->{models} || [] }
               && $m->{models}[0]{dir} eq "$dir/$m->{models}[0]{path}"
               && -d $m->{models}[0]{dir};
    };
    if (!$current->()) {
        croak 'InferCheck: python3 with numpy, safetensors and scikit-learn '
              . 'is needed for the fixtures' unless have_python_deps();
        mkdir $dir unless -d $dir;
        open my $lock, '>', "$dir/.lock" or croak "cannot open $dir/.lock: $!";
        flock $lock, LOCK_EX;
        _run_py('-B', $gen, '--fixtures', $dir) unless $current->();
        flock $lock, LOCK_UN;
        close $lock;
    }
    $ENV{TEST_NGINX_FIXTURES} = $dir;
    return $dir;
}

sub _read_json {
    my $f = shift;
    open my $in, '<', $f or die "cannot open $f: $!\n";
    local $/;
    my $t = <$in>;
    close $in;
    return JSON::PP->new->decode($t);
}

my $manifest_cache;
sub fixture_manifest {
    return $manifest_cache ||= _read_json(ensure_fixtures() . '/manifest.json');
}

# The manifest entry of a model (or a broken model) by name.
sub fixture_model {
    my $name = shift;
    my $m = fixture_manifest();
    for my $e (@{ $m->{models} }, @{ $m->{broken} }) {
        return $e if $e->{name} eq $name;
    }
    croak "InferCheck: no fixture named $name";
}

my %kserve_cache;

# ref_kserve($model_dir, rows => N, seed => S, name => 'model_name',
#            dist => 'normal'|'uniform'|'digits', version => 'v')
# Returns ($request_json_text, $expected_response_json_text, $all) from
# ref.py: a KServe v2 request with N random rows and the float64 numpy
# answer.  $all is the decoded document (request, response, labels for
# dist => 'digits').
sub ref_kserve {
    my ($dir, %o) = @_;
    my @args = ('-B', "$LIB/ref.py", 'kserve', $dir,
                '--rows', $o{rows} // 1, '--seed', $o{seed} // 0);
    push @args, '--name', $o{name} if defined $o{name};
    push @args, '--dist', $o{dist} if defined $o{dist};
    push @args, '--model-version', $o{version} if defined $o{version};
    my $key = join "\0", @args;
    my $doc = $kserve_cache{$key} ||= JSON::PP->new->decode(_run_py(@args));
    my $enc = JSON::PP->new->canonical(1);
    return ($enc->encode($doc->{request}), $enc->encode($doc->{response}), $doc);
}

# ref_cases(\@spec) -> [{request, response[, labels]}, ...]: many KServe
# cases from one python run; each spec is {dir, name, rows, seed[, dist,
# version]}.
sub ref_cases {
    my ($spec) = @_;
    my $tmp = File::Spec->catfile(File::Spec->tmpdir, "ref-cases-$$.json");
    open my $out, '>', $tmp or croak "cannot write $tmp: $!";
    print $out JSON::PP->new->encode($spec);
    close $out;
    my $res = JSON::PP->new->decode(_run_py('-B', "$LIB/ref.py", 'cases', $tmp));
    unlink $tmp;
    return $res;
}

# ref_predict($model_dir, \@rows) -> [[outputs...], ...] (float64 numpy)
sub ref_predict {
    my ($dir, $rows) = @_;
    my $tmp = File::Spec->catfile(File::Spec->tmpdir, "ref-rows-$$.json");
    open my $out, '>', $tmp or croak "cannot write $tmp: $!";
    print $out JSON::PP->new->encode($rows);
    close $out;
    my $res = JSON::PP->new->decode(_run_py('-B', "$LIB/ref.py", 'predict', $dir, $tmp));
    unlink $tmp;
    return $res;
}

1;
