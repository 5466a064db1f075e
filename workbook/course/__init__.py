"""The course material: the exercises (one model for all), their checks, the
fixed datasets of the notebooks and checks, and the student release.
Uses `workbook.pipeline` to run students' SQL."""
