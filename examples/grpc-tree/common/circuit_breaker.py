# The hand-written breaker that lived here is replaced by tripbit: this one line is the whole drop-in.
from tripbit import CircuitBreaker, CircuitBreakerOpenError, CircuitState
