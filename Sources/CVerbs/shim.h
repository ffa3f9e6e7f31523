// librdmacm + libibverbs. Wrapped only by GranaryTransport.
#pragma once
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
