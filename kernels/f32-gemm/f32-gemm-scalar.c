/* placeholder */
typedef int emb_placeholder_t;
