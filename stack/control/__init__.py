"""Control: pure pursuit, Stanley, PID."""
