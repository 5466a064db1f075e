"""Reference computations that find exercise answers: instructor material, left out of the
student release (the checks work from the values stored under workbook/course/expected/)."""
