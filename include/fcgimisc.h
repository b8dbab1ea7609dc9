/*
 * fcgimisc.h -- small helper macros that libfcgi installs and some of its
 * users include: FALSE, TRUE, min, max and ASSERT. Each is left alone when
 * already defined.
 */
#ifndef _FCGIMISC_H
#define _FCGIMISC_H

#ifndef FALSE
#define FALSE (0)
#endif

#ifndef TRUE
#define TRUE (1)
#endif

/* Both arguments may be evaluated twice. */
#ifndef min
#define min(a, b) ((a) < (b) ? (a) : (b))
#endif

#ifndef max
#define max(a, b) ((a) > (b) ? (a) : (b))
#endif

/* assert(); the includer provides <assert.h>, as with libfcgi. */
#ifndef ASSERT
#define ASSERT(assertion) assert(assertion)
#endif

#endif /* _FCGIMISC_H */
