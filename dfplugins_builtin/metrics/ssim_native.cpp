// SSIM's per-channel sums and the closed-form gradient of one of them, in one pass over rows.
//
// The arithmetic of ssim_fused.py's strip_forward and strip_backward, for float32 images on the
// CPU: every row of the inputs is filtered horizontally once, into a ring of k rows; each window
// row is the vertical sum of that ring, then its SSIM terms and the derivatives of the wanted sum
// with respect to the statistics (the "fields") go into a second ring of k rows; each input row
// of the gradient is the vertical, then horizontal, adjoint filtering of that ring. The filters
// run with the window length a compile-time constant, so each output is a sum of k loads held in
// a register (the window is symmetric: (k + 1) / 2 products), vectorised across columns; the
// rings (a few hundred KiB at 1024 px) stay in the core's cache. Work is split into bands of
// input rows (each sample, channel and band a task) run on `threads` threads; a band recomputes
// the k - 1 window rows above it that its gradient rows need, and counts only its own windows.
//
// Built by ssim_native.py with the system's C++ compiler; no torch headers, a C entry point.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

struct Job {
    const float* x;
    const float* y;
    float* gx;
    float* gy;
    int64_t n, c, h, w;
    int64_t xs[4], ys[4], gxs[4], gys[4];  // element strides: sample, channel, row, column
    const float* taps;
    float c1, c2;
    int output;  // 0: no gradient, 1: of the SSIM sum, 2: of the contrast-structure sum
    int bands;
    double* ssim_sums;  // n * c, zeroed by the caller
    double* cs_sums;
};

template <int K>
inline float filt(const float* __restrict p, const float* __restrict w) {
    // sum_b w[b] p[b], the K products unrolled into one register
    float acc = w[0] * p[0];
#pragma GCC unroll 16
    for (int b = 1; b < K; ++b) acc += w[b] * p[b];
    return acc;
}

template <int K>
void horizontal(const float* __restrict in, float* __restrict out, int64_t count, const float* __restrict w) {
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) out[j] = filt<K>(in + j, w);
}

template <int K>
void vertical(const float* const* rows, const float* w, float* __restrict out, int64_t count) {
    // out[j] = sum_a w[a] rows[a][j]
    const float* __restrict p[K];
    float t[K];
    for (int a = 0; a < K; ++a) {
        p[a] = rows[a];
        t[a] = w[a];
    }
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) {
        float acc = t[0] * p[0][j];
#pragma GCC unroll 16
        for (int a = 1; a < K; ++a) acc += t[a] * p[a][j];
        out[j] = acc;
    }
}

// SSIM's terms of one window row: the row's sums, and (OUTPUT 1: of the SSIM sum, 2: of the
// contrast-structure sum) the derivatives of that sum with respect to the four statistics.
template <int OUTPUT>
void ssim_terms(const float* __restrict stats, int64_t count, float c1, float c2, float* __restrict fields,
                float& ssim_sum, float& cs_sum) {
    const float* __restrict mx = stats;
    const float* __restrict my = stats + count;
    const float* __restrict sq = stats + 2 * count;
    const float* __restrict xy = stats + 3 * count;
    float* __restrict f_mx = fields;
    float* __restrict f_my = fields + count;
    float* __restrict f_sq = fields + 2 * count;
    float* __restrict f_xy = fields + 3 * count;
    float s_sum = 0.0f, c_sum = 0.0f;
#pragma omp simd reduction(+ : s_sum, c_sum)
    for (int64_t j = 0; j < count; ++j) {
        const float mu_x = mx[j], mu_y = my[j];
        const float mu_xy = mu_x * mu_y;
        float b1 = mu_x * mu_x + mu_y * mu_y;
        const float b2 = sq[j] - b1 + c2;
        b1 = b1 + c1;
        const float luminance = (2.0f * mu_xy + c1) / b1;
        const float cs = (2.0f * (xy[j] - mu_xy) + c2) / b2;
        s_sum += luminance * cs;
        c_sum += cs;
        if (OUTPUT == 1) {
            const float g2 = 2.0f * luminance / b2, h = 2.0f * cs / b1;
            f_mx[j] = g2 * (mu_x * cs - mu_y) + h * (mu_y - mu_x * luminance);
            f_my[j] = g2 * (mu_y * cs - mu_x) + h * (mu_x - mu_y * luminance);
            f_sq[j] = -0.5f * g2 * cs;
            f_xy[j] = g2;
        } else if (OUTPUT == 2) {
            const float g2 = 2.0f / b2;
            f_mx[j] = g2 * (mu_x * cs - mu_y);
            f_my[j] = g2 * (mu_y * cs - mu_x);
            f_sq[j] = -0.5f * g2 * cs;
            f_xy[j] = g2;
        }
    }
    ssim_sum = s_sum;
    cs_sum = c_sum;
}

// g = d_mu + 2 mine d_squares + other d_xy along one row (strided rows: channels-last images)
inline void pixel_gradient(float* __restrict g, int64_t gs, const float* __restrict d_mu, const float* __restrict mine,
                           int64_t ms, const float* __restrict other, int64_t os, const float* __restrict d_squares,
                           const float* __restrict d_xy, int64_t count) {
    if (gs == 1 && ms == 1 && os == 1) {
#pragma omp simd
        for (int64_t j = 0; j < count; ++j) g[j] = d_mu[j] + 2.0f * mine[j] * d_squares[j] + other[j] * d_xy[j];
        return;
    }
    for (int64_t j = 0; j < count; ++j) g[j * gs] = d_mu[j] + 2.0f * mine[j * ms] * d_squares[j] + other[j * os] * d_xy[j];
}

template <int K>
void run_task(const Job& job, int64_t sample, int64_t channel, int64_t band, int64_t r0, int64_t r1) {
    const int64_t H = job.h, W = job.w, Ho = H - K + 1, Wo = W - K + 1, P = Wo + 2 * (K - 1);
    const bool want_x = job.gx != nullptr, want_y = job.gy != nullptr;
    const bool grad = job.output != 0 && (want_x || want_y);
    const int nf = grad ? 2 + int(want_x) + int(want_y) : 0;  // fields: [d mu_x], [d mu_y], d squares, d xy
    const float* w = job.taps;
    const float c1 = job.c1, c2 = job.c2;
    const float* xb = job.x + sample * job.xs[0] + channel * job.xs[1];
    const float* yb = job.y + sample * job.ys[0] + channel * job.ys[1];

    std::vector<float> rowbuf(4 * W);           // x, y, x^2 + y^2, xy of one input row
    std::vector<float> hring(static_cast<size_t>(K) * 4 * Wo);  // horizontally filtered rows, ring of K
    std::vector<float> stats(4 * Wo);  // mu_x, mu_y, E[x^2 + y^2], E[xy] of one window row
    std::vector<float> fring(static_cast<size_t>(K) * 4 * Wo);  // fields of window rows (all four), ring of K
    std::vector<float> padded(size_t(nf ? nf : 1) * P, 0.0f);  // vertical adjoint of one row, zero-padded
    std::vector<float> back(size_t(nf ? nf : 1) * W);          // its horizontal adjoint
    std::vector<float> wr(K);
    for (int b = 0; b < K; ++b) wr[b] = w[K - 1 - b];

    const int64_t fa = std::max<int64_t>(0, r0 - (K - 1));  // first window row this band needs
    const int64_t fb = std::min(Ho, r1);                     // one past the last
    int64_t next_h = fa;                                     // next input row to filter horizontally
    double ssim_sum = 0.0, cs_sum = 0.0;

    auto filter_row = [&](int64_t r) {
        float* xr = rowbuf.data();
        float* yr = xr + W;
        float* sq = yr + W;
        float* xy = sq + W;
        const float* xp = xb + r * job.xs[2];
        const float* yp = yb + r * job.ys[2];
        const int64_t sx = job.xs[3], sy = job.ys[3];
        for (int64_t j = 0; j < W; ++j) {
            xr[j] = xp[j * sx];
            yr[j] = yp[j * sy];
        }
#pragma omp simd
        for (int64_t j = 0; j < W; ++j) {
            sq[j] = xr[j] * xr[j] + yr[j] * yr[j];
            xy[j] = xr[j] * yr[j];
        }
        float* dst = hring.data() + (r % K) * 4 * Wo;
        for (int q = 0; q < 4; ++q) horizontal<K>(rowbuf.data() + q * W, dst + q * Wo, Wo, w);
    };

    int slots[4] = {0, 0, 0, 0};  // the fields filtered back, as slots of the ring: [d mu_x], [d mu_y], d squares, d xy
    {
        int m = 0;
        if (want_x) slots[m++] = 0;
        if (want_y) slots[m++] = 1;
        slots[m++] = 2;
        slots[m] = 3;
    }

    auto emit_gradient_row = [&](int64_t r) {
        // vertical adjoint: V[j] = sum_a w[a] F[r - a][j] over window rows fa <= r - a < fb
        for (int f = 0; f < nf; ++f) {
            float* v = padded.data() + f * P + (K - 1);
            const float* rows[K];
            float wt[K];
            int used = 0;
            for (int a = 0; a < K; ++a) {
                const int64_t i = r - a;
                if (i < fa || i >= fb) continue;
                rows[used] = fring.data() + ((i % K) * 4 + slots[f]) * Wo;
                wt[used++] = w[a];
            }
            if (used == K) {
                vertical<K>(rows, wt, v, Wo);
            } else {
                for (int64_t j = 0; j < Wo; ++j) v[j] = 0.0f;
                for (int a = 0; a < used; ++a) {
                    const float* src = rows[a];
                    const float t = wt[a];
#pragma omp simd
                    for (int64_t j = 0; j < Wo; ++j) v[j] += t * src[j];
                }
            }
            // horizontal adjoint: 'full' convolution, a 'valid' correlation of the padded row with the reversed window
            horizontal<K>(padded.data() + f * P, back.data() + f * W, W, wr.data());
        }
        const float* xp = xb + r * job.xs[2];
        const float* yp = yb + r * job.ys[2];
        const float* d_squares = back.data() + (nf - 2) * W;
        const float* d_xy = back.data() + (nf - 1) * W;
        int f = 0;
        if (want_x) {
            const float* d_mu = back.data() + (f++) * W;
            float* g = job.gx + sample * job.gxs[0] + channel * job.gxs[1] + r * job.gxs[2];
            pixel_gradient(g, job.gxs[3], d_mu, xp, job.xs[3], yp, job.ys[3], d_squares, d_xy, W);
        }
        if (want_y) {
            const float* d_mu = back.data() + (f++) * W;
            float* g = job.gy + sample * job.gys[0] + channel * job.gys[1] + r * job.gys[2];
            pixel_gradient(g, job.gys[3], d_mu, yp, job.ys[3], xp, job.xs[3], d_squares, d_xy, W);
        }
    };

    for (int64_t i = fa; i < fb; ++i) {
        while (next_h < i + K) filter_row(next_h++);
        for (int q = 0; q < 4; ++q) {
            const float* rows[K];
            for (int a = 0; a < K; ++a) rows[a] = hring.data() + (((i + a) % K) * 4 + q) * Wo;
            vertical<K>(rows, w, stats.data() + q * Wo, Wo);
        }
        float* fr = fring.data() + (i % K) * 4 * Wo;
        const int output = grad ? job.output : 0;
        float row_ssim, row_cs;
        if (output == 1) ssim_terms<1>(stats.data(), Wo, c1, c2, fr, row_ssim, row_cs);
        else if (output == 2) ssim_terms<2>(stats.data(), Wo, c1, c2, fr, row_ssim, row_cs);
        else ssim_terms<0>(stats.data(), Wo, c1, c2, fr, row_ssim, row_cs);
        if (i >= r0) {  // the rows above r0 are the previous band's windows: their fields only
            ssim_sum += row_ssim;
            cs_sum += row_cs;
            if (grad) emit_gradient_row(i);
        }
    }
    if (grad)
        for (int64_t r = std::max(r0, fb); r < r1; ++r) emit_gradient_row(r);
    // each task its own slot: the caller adds the bands
    job.ssim_sums[(sample * job.c + channel) * job.bands + band] = ssim_sum;
    job.cs_sums[(sample * job.c + channel) * job.bands + band] = cs_sum;
}

template <int K>
void run_all(const Job& job, int threads) {
    const int64_t tasks = job.n * job.c * job.bands;
    std::atomic<int64_t> next{0};
    auto worker = [&]() {
        for (int64_t t = next++; t < tasks; t = next++) {
            const int64_t band = t % job.bands, plane = t / job.bands;
            const int64_t r0 = band * job.h / job.bands, r1 = (band + 1) * job.h / job.bands;
            run_task<K>(job, plane / job.c, plane % job.c, band, r0, r1);
        }
    };
    const int extra = int(std::min<int64_t>(threads, tasks)) - 1;
    std::vector<std::thread> pool;
    for (int t = 0; t < extra; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
}

}  // namespace

extern "C" {

// Returns 0, or 1 for a window length this build does not hold (the caller then runs torch).
// Sums are per (sample, channel, band): n * c * bands doubles each; the caller adds the bands.
int dfind_ssim_f32(const float* x, const float* y, float* gx, float* gy, int64_t n, int64_t c, int64_t h,
                   int64_t w, const int64_t* x_strides, const int64_t* y_strides, const int64_t* gx_strides,
                   const int64_t* gy_strides, const float* taps, int k, float c1, float c2, int output, int bands,
                   int threads, double* ssim_sums, double* cs_sums) {
    Job job{x, y, gx, gy, n, c, h, w, {}, {}, {}, {}, taps, c1, c2, output, bands, ssim_sums, cs_sums};
    for (int d = 0; d < 4; ++d) {
        job.xs[d] = x_strides[d];
        job.ys[d] = y_strides[d];
        job.gxs[d] = gx ? gx_strides[d] : 0;
        job.gys[d] = gy ? gy_strides[d] : 0;
    }
    switch (k) {
        case 7: run_all<7>(job, threads); return 0;  // ms-ssim:win_size=7, the smaller window the docs suggest
        case 11: run_all<11>(job, threads); return 0;  // the default
        default: return 1;
    }
}

int dfind_ssim_abi(void) { return 1; }

}
