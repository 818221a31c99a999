/*
 * ngx_infer: the "mlp" architecture's hyperparameters (infer_mlp.c), for
 * the tests that look inside a loaded model: model->arch_data is an
 * infer_mlp_t when model->arch is &infer_arch_mlp.
 */

#ifndef _INFER_MLP_H_INCLUDED_
#define _INFER_MLP_H_INCLUDED_


#include "infer_model.h"


#define INFER_MLP_MAX_LAYERS  64


typedef struct {
    char                 *wname;       /* tensor names from config.json */
    char                 *bname;       /* NULL: no bias */
    int                   in;
    int                   out;
    int                   act;         /* INFER_ACT_* */
    int                   w;           /* weight indices; b -1: no bias */
    int                   b;
} infer_mlp_layer_t;


typedef struct {
    infer_mlp_layer_t    *layers;
    int                   nlayers;
    int                   softmax;
    int64_t               feature_shape[INFER_MAX_DIMS];
    int                   feature_ndim;
} infer_mlp_t;


#endif /* _INFER_MLP_H_INCLUDED_ */
