// Index helpers for the grouped in_proj_qkvz layout (shared by the GDN kernels).
// qkvz row: Hk groups of G = 2*Dk + 2*r*Dv, group g = [q_g | k_g | v (r heads) | z (r heads)].
// Conv channels: [q (Hk*Dk) | k (Hk*Dk) | v (Hv*Dv)], head-major inside each block.
#pragma once

// column of conv channel ch inside one qkvz row
__device__ __forceinline__ int gdn_channel_col(int ch, int Hk, int Hv, int Dk, int Dv) {
    int r = Hv / Hk, G = 2 * Dk + 2 * r * Dv;
    int qk = Hk * Dk;
    if (ch < qk) return (ch / Dk) * G + ch % Dk;
    if (ch < 2 * qk) { int c = ch - qk; return (c / Dk) * G + Dk + c % Dk; }
    int c = ch - 2 * qk, h = c / Dv;
    return (h / r) * G + 2 * Dk + (h % r) * Dv + c % Dv;
}

// column of z for value head h, dim 0
__device__ __forceinline__ int gdn_z_col(int h, int Hk, int Hv, int Dk, int Dv) {
    int r = Hv / Hk, G = 2 * Dk + 2 * r * Dv;
    return (h / r) * G + 2 * Dk + r * Dv + (h % r) * Dv;
}
