/* placeholder: to be written */
#include "ops/op.h"
