/*
 * ngx_infer: JSON numbers (infer_json.h): what the inline scan and float
 * conversion leave to a function, and the shortest float writer.
 *
 * Numbers are read as what strtod() gives, without strtod() in all but
 * rare cases: the digits go into a uint64_t mantissa and a decimal
 * exponent; when both are small the double is exact after one multiply or
 * divide (Clinger's fast path); otherwise, for a float, a double within a
 * few ulps is computed and used only when it is far from the points where
 * rounding to float changes (infer_json_num_float()).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_json.h"


/*
 * Significant digits handed to strtod(): a decimal halfway between two
 * doubles has at most 767, so digits past these only tell whether the
 * value lies above the digits kept.
 */
#define INFER_JSON_DIGITS     780


static int infer_json_exact(double c, int q, double y);


const double  infer_json_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static const uint32_t  infer_json_pow10u[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
    1000000000
};


double
infer_json_num_double(const infer_json_num_t *n, const unsigned char *s,
    const unsigned char *end)
{
    double  d;

    if (n->m == 0) {
        return n->neg ? -0.0 : 0.0;
    }

    if (!n->trunc && n->m <= (1ULL << 53) && n->e >= -22 && n->e <= 22) {
        d = (double) n->m;
        d = (n->e < 0) ? d / infer_json_pow10[-n->e]
                       : d * infer_json_pow10[n->e];
        return n->neg ? -d : d;
    }

    return infer_json_strtod(s, end);
}


/*
 * strtod() on a NUL-terminated copy of the significant digits (see
 * INFER_JSON_DIGITS) with an exponent: the token itself may be followed
 * by anything, and has no NUL after it.
 */

double
infer_json_strtod(const unsigned char *p, const unsigned char *end)
{
    int       frac, sticky;
    char      buf[INFER_JSON_DIGITS + 32];
    size_t    n, i;
    int64_t   e, x;

    i = 0;
    n = 0;
    e = 0;
    frac = 0;
    sticky = 0;

    if (*p == '-') {
        buf[i++] = '-';
        p++;
    }

    for ( /* void */ ; p < end; p++) {

        if (*p == '.') {
            frac = 1;
            continue;
        }

        if (!infer_json_digit(*p)) {
            break;
        }

        if (n == 0 && *p == '0') {
            e -= frac;
            continue;
        }

        if (n < INFER_JSON_DIGITS) {
            buf[i + n++] = *p;
            e -= frac;

        } else {
            e += !frac;
            sticky |= (*p != '0');
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        frac = (*p == '-');

        if (*p == '-' || *p == '+') {
            p++;
        }

        for (x = 0; p < end && infer_json_digit(*p); p++) {
            if (x < 100000000) {
                x = x * 10 + (*p - '0');
            }
        }

        e += frac ? -x : x;
    }

    if (n == 0) {
        return (i > 0) ? -0.0 : 0.0;
    }

    if (sticky) {
        buf[i + n++] = '1';
        e--;
    }

    snprintf(buf + i + n, 24, "e%lld", (long long) e);

    return strtod(buf, NULL);
}


/*
 * The shortest decimal that reads back as v.  The 9 significant digits d9
 * always do; fewer digits p are tried downwards from there, each time the
 * two p-digit neighbours of v, while one of them lies inside the rounding
 * interval of v, (lo, hi).
 *
 * Scaled by 10^(8 - k) like d9, a candidate is an integer and the bounds
 * are within 1e-6 of sl and sh, so most candidates are settled there.
 * Near a bound, the check is done on y = c * 10^q: with an exact power of
 * ten, y is rounded once and rounding is monotonic, so "lo < y" is exact,
 * and y == lo is checked for being exact (halfway rounds to an even
 * significand, so then lo itself reads back as v); otherwise a margin of
 * 2^-48 covers the error, and no decimal c * 10^q with |q| > 22 and c of
 * 9 digits is ever halfway between floats.
 */

size_t
infer_json_write_float(char *dst, float v)
{
    int       k, p, q, n, e10, even, fixed, i;
    char     *out, digits[12];
    double    d, lo, hi, sl, sh, half, x, y;
    uint32_t  bits, be, frac, d9, c, best, div, r;
    uint64_t  hbits;
    size_t    flen, elen;

    memcpy(&bits, &v, sizeof(float));
    be = (bits >> 23) & 0xff;
    frac = bits & 0x7fffff;

    if (be == 0xff) {
        memcpy(dst, "null", 4);
        return 4;
    }

    out = dst;

    if (bits >> 31) {
        *out++ = '-';
    }

    if (be == 0 && frac == 0) {
        *out++ = '0';
        return out - dst;
    }

    d = fabs((double) v);

    hbits = (uint64_t) ((be ? (int) be : 1) - 151 + 1023) << 52;
    memcpy(&half, &hbits, sizeof(double));
    hi = d + half;
    lo = (frac == 0 && be > 1) ? d - half / 2 : d - half;
    even = !(bits & 1);

    /* k = floor(log10(d)), estimated from the binary exponent and fixed */
    memcpy(&hbits, &d, sizeof(double));
    k = (int) (hbits >> 52) - 1023;
    k = (k >= 0) ? (k * 1233) >> 12 : -((-k * 1233 + 4095) >> 12);

    for ( ;; ) {
        d9 = (uint32_t) (infer_json_scale(d, 8 - k) + 0.5);

        if (d9 >= 1000000000) {
            k++;

        } else if (d9 < 100000000) {
            k--;

        } else {
            break;
        }
    }

    sl = infer_json_scale(lo, 8 - k);
    sh = infer_json_scale(hi, 8 - k);

    best = d9;
    p = 9;

    while (best % 10 == 0) {
        best /= 10;
        p--;
    }

    while (p > 1) {
        div = infer_json_pow10u[10 - p];
        c = d9 / div;
        r = d9 % div;
        q = k - p + 2;

        /* the nearer neighbour first */
        if (2 * r >= div) {
            c++;
        }

        for (i = 0; i < 2; i++) {
            x = (double) (c * div);

            if (x > sl + 1e-3 && x < sh - 1e-3) {
                break;
            }

            if (x > sl - 1e-3 && x < sh + 1e-3) {
                y = infer_json_scale((double) c, q);

                if ((q >= -22 && q <= 22)
                    ? (lo < y && y < hi)
                      || ((y == lo || y == hi) && even
                          && infer_json_exact((double) c, q, y))
                    : (lo * (1 + 0x1p-48) < y && y < hi * (1 - 0x1p-48)))
                {
                    break;
                }
            }

            c = (2 * r >= div) ? c - 1 : c + 1;
        }

        if (i == 2) {
            break;
        }

        best = c;
        p--;
    }

    /* v is best * 10^(k - p + 1), where best may be 10^p */

    n = 0;

    do {
        digits[n++] = (char) ('0' + best % 10);
        best /= 10;
    } while (best);

    e10 = k - p + n;

    while (digits[0] == '0') {
        memmove(digits, digits + 1, --n);
    }

    /* digits[] holds n digits, the last first: v is d.ddd * 10^e10 */

    flen = (e10 >= 0) ? ((n > e10 + 1) ? n + 1 : e10 + 1) : n + 1 - e10;
    elen = n + (n > 1) + 4;
    fixed = (flen <= elen);

    if (fixed && e10 < 0) {
        *out++ = '0';
        *out++ = '.';

        for (i = -1; i > e10; i--) {
            *out++ = '0';
        }
    }

    for (i = n - 1; i >= 0; i--) {
        *out++ = digits[i];

        if (i > 0 && (fixed ? n - 1 - i == e10 : i == n - 1)) {
            *out++ = '.';
        }
    }

    if (fixed) {
        for (i = n - 1; i < e10; i++) {
            *out++ = '0';
        }

        return out - dst;
    }

    *out++ = 'e';
    *out++ = (e10 < 0) ? '-' : '+';
    e10 = abs(e10);
    *out++ = (char) ('0' + e10 / 10);
    *out++ = (char) ('0' + e10 % 10);

    return out - dst;
}


/* c * 10^q == y, exactly (|q| <= 22) */

static int
infer_json_exact(double c, int q, double y)
{
    if (q >= 0) {
        return fma(c, infer_json_pow10[q], -y) == 0;
    }

    return fma(y, infer_json_pow10[-q], -c) == 0;
}
