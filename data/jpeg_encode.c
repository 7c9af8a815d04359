/* jpeg_encode.c — fw_jpeg_encode (declared in decode.h): baseline JPEG through
 * TurboJPEG, 4:2:0 chroma subsampling for colour, a single channel for gray. */
#include <string.h>
#include <turbojpeg.h>

#include "decode.h"

int fw_jpeg_encode(const fw_image *img, int quality, uint8_t **out, size_t *len, fw_error *err)
{
    if (!out || !len)
        return fw_fail(err, FW_EINVAL, "jpeg encode: no output buffer given");
    *out = NULL;
    *len = 0;
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3))
        return fw_fail(err, FW_EINVAL, "jpeg encode: bad image %dx%dx%d", img ? img->width : 0,
                       img ? img->height : 0, img ? img->channels : 0);
    if (img->width > 65500 || img->height > 65500)
        return fw_fail(err, FW_ETOOBIG, "jpeg encode: %dx%d exceeds the JPEG limit of 65500",
                       img->width, img->height);
    if (quality < 1 || quality > 100)
        return fw_fail(err, FW_EINVAL, "jpeg encode: quality %d is outside 1..100", quality);

    tjhandle tj = tjInitCompress();
    if (!tj)
        return fw_fail(err, FW_ENOMEM, "jpeg encode: tjInitCompress failed: %s", tjGetErrorStr2(NULL));
    unsigned char *jpeg = NULL;
    unsigned long jpeg_size = 0;
    int gray = img->channels == 1;
    int rc = tjCompress2(tj, img->pixels, img->width, 0, img->height, gray ? TJPF_GRAY : TJPF_RGB,
                         &jpeg, &jpeg_size, gray ? TJSAMP_GRAY : TJSAMP_420, quality, 0);
    /* A warning (TJERR_WARNING) still leaves a complete image; anything else is fatal. */
    if ((rc != 0 && tjGetErrorCode(tj) != TJERR_WARNING) || !jpeg) {
        fw_fail(err, FW_EIO, "jpeg encode: %s", tjGetErrorStr2(tj));
        tjFree(jpeg);
        tjDestroy(tj);
        return FW_EIO;
    }
    tjDestroy(tj);
    /* Hand back memory the caller frees with free(), as decode.h promises. */
    uint8_t *copy = malloc(jpeg_size ? jpeg_size : 1);
    if (!copy) {
        tjFree(jpeg);
        return fw_fail(err, FW_ENOMEM, "jpeg encode: cannot allocate %lu bytes", jpeg_size);
    }
    memcpy(copy, jpeg, jpeg_size);
    tjFree(jpeg);
    *out = copy;
    *len = jpeg_size;
    return FW_OK;
}
