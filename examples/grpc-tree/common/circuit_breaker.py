# The hand-written breaker that lived here is replaced by tripbit: this one line is the whole drop-in.
# ruff: noqa: F401  (re-exported for the servers)
from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState
